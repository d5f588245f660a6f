"""What the Caddy backend refuses to map (docs/caddy.md)."""

from __future__ import annotations

from pathlib import Path

from reconciler.backends.options import CaddyOptions
from reconciler.model import RouteSpec


def check_route(name: str, spec: RouteSpec, options: CaddyOptions) -> list[str]:
    """Each feature of ``spec`` Caddy cannot enforce as the platform does, as a sentence."""
    problems: list[str] = []
    validation = spec.validation
    if validation is not None and validation.http_basic is not None:
        problems.append(
            f"route {name!r}: validation.httpBasic cannot be served by Caddy: its basic_auth "
            "handler checks bcrypt hashes, not the platform's unsalted sha256/sha384/sha512 "
            "hashes; remove httpBasic for this backend"
        )
    if validation is not None and validation.subject_matches:
        problems.append(
            f"route {name!r}: validation.clientCertificate.subjectMatches cannot be enforced "
            "by Caddy 2.6 (it has no client-certificate subject matcher); remove it for this "
            "backend (tls.clientValidationCa alone is supported)"
        )
    for rule in spec.paths:
        if options.upstream(rule.service) is None:
            problems.append(
                f"route {name!r}: service {rule.service!r} (path {rule.prefix}) has no "
                f"upstream: add `caddy: upstreams: {{{rule.service}: HOST:PORT}}` "
                "to .routes.yaml"
            )
    tls = spec.tls
    if tls is not None:
        if tls.server_certificate is None:
            problems.append(
                f"route {name!r}: tls needs tls.serverCertificate on Caddy (the backend does "
                "not issue certificates)"
            )
        for field, secret in (
            ("clientValidationCa", tls.client_validation_ca),
            ("serverCertificate", tls.server_certificate),
        ):
            problems.extend(_secret_problems(name, field, secret, options))
    return problems


def _secret_problems(name: str, field: str, secret: str | None, options: CaddyOptions) -> list[str]:
    if secret is None:
        return []
    files = options.secrets.get(secret)
    if files is None:
        return [
            f"route {name!r}: tls.{field} names secret {secret!r}, which is not in "
            "`caddy: secrets:` of .routes.yaml (map it to a PEM file)"
        ]
    missing = sorted({f for f in files if not Path(f).is_file()})
    return [f"route {name!r}: secret {secret!r} file {f} does not exist" for f in missing]
