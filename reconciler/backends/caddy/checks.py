"""The ``caddy:`` settings and what the Caddy backend refuses to map (docs/caddy.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.backends.caddy.mapping import CaddyOptions
from reconciler.config import Settings
from reconciler.errors import ConfigError
from reconciler.model import RouteSpec

_KNOWN = {"server", "listen", "tls_server", "tls_listen", "upstreams", "secrets"}


def options_from_settings(settings: Settings | None) -> CaddyOptions:
    """Read ``settings.caddy``; secret files resolve against the config's folder."""
    raw: Mapping[str, Any] = settings.caddy if settings is not None else {}
    where = f"{settings.config_file}: caddy" if settings and settings.config_file else "caddy"
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s): {', '.join(unknown)}",
            hint=f"known caddy settings: {', '.join(sorted(_KNOWN))}",
        )
    root = settings.root if settings is not None else Path.cwd()
    defaults = CaddyOptions()
    return CaddyOptions(
        server=_text(raw, "server", defaults.server, where),
        listen=_addresses(raw, "listen", defaults.listen, where),
        tls_server=_text(raw, "tls_server", defaults.tls_server, where),
        tls_listen=_addresses(raw, "tls_listen", defaults.tls_listen, where),
        upstreams=_upstreams(raw.get("upstreams") or {}, where),
        secrets=_secrets(raw.get("secrets") or {}, root, where),
    )


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


def _text(raw: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key} must be a non-empty string (got {value!r})")
    return value


def _addresses(
    raw: Mapping[str, Any], key: str, default: tuple[str, ...], where: str
) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where}.{key} must be a list of listen addresses, e.g. [":8080"]')
    return tuple(value)


def _upstreams(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v for v in raw.values()):
        raise ConfigError(
            f"{where}.upstreams must map service names to dial addresses",
            hint="e.g. upstreams: {shopping-cart: 127.0.0.1:9001}",
        )
    return {str(k): v for k, v in raw.items()}


def _secrets(raw: Any, root: Path, where: str) -> dict[str, tuple[str, str]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}.secrets must map secret names to PEM files")
    out: dict[str, tuple[str, str]] = {}
    for secret, value in raw.items():
        if isinstance(value, str):
            path = str((root / value).resolve())
            out[str(secret)] = (path, path)  # one PEM holding certificate (and key)
        elif isinstance(value, dict) and isinstance(value.get("cert"), str):
            cert = str((root / value["cert"]).resolve())
            key = str((root / str(value.get("key") or value["cert"])).resolve())
            out[str(secret)] = (cert, key)
        else:
            raise ConfigError(
                f"{where}.secrets.{secret} must be a PEM file or {{cert: FILE, key: FILE}}"
            )
    return out
