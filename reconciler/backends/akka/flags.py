"""How the ``akka:`` backend turns one spec into another with CLI flags, and checks the result.

``update -f FILE`` merges rather than replaces, so what the new spec drops needs ``--remove-…``
flags; a change of path services alone goes through ``--path`` / ``--remove-path``.
"""

from __future__ import annotations

from reconciler.errors import BackendError
from reconciler.model import RouteSpec, SubjectMatcher


def paths_only_change(before: RouteSpec, after: RouteSpec) -> bool:
    """Whether ``--path`` / ``--remove-path`` alone turn ``before`` into ``after``."""
    if (before.host, before.cors, before.tls, before.validation) != (
        after.host,
        after.cors,
        after.tls,
        after.validation,
    ):
        return False
    # --path sets only the service; per-path options need the file.
    return all(not rule.options() for rule in (*before.paths, *after.paths))


def path_flags(before: RouteSpec, after: RouteSpec) -> list[str]:
    """``--path PREFIX=SERVICE`` for new or changed rules, ``--remove-path`` for gone ones."""
    flags: list[str] = []
    for rule in after.paths:
        if before.path(rule.prefix) != rule:
            flags += ["--path", f"{rule.prefix}={rule.service}"]
    kept = {rule.prefix for rule in after.paths}
    for rule in before.paths:
        if rule.prefix not in kept:
            flags += ["--remove-path", rule.prefix]
    return flags


def removal_flags(before: RouteSpec, after: RouteSpec) -> list[str]:
    """Flags that remove what a merging ``update -f`` would keep: gone prefixes and sections."""
    kept = {rule.prefix for rule in after.paths}
    flags = [
        f
        for rule in before.paths
        if rule.prefix not in kept
        for f in ("--remove-path", rule.prefix)
    ]
    if before.cors and not after.cors:
        flags += [f for o in before.cors.origins for f in ("--remove-cors-origin", o)]
        flags += [f for m in before.cors.methods for f in ("--remove-cors-method", m)]
    if before.tls and not after.tls:
        if before.tls.client_validation_ca:
            flags.append("--remove-client-ca-secret")
        if before.tls.server_certificate:
            flags.append("--remove-server-certificate-secret")
    if before.validation and not after.validation:
        for matcher in before.validation.subject_matches:
            flags += ["--remove-client-certificate-subject", _subject_flag(matcher)]
        if before.validation.http_basic:
            for user, _ in before.validation.http_basic.password_hashes:
                flags += ["--remove-http-basic-credentials", user]
    return flags


def _subject_flag(matcher: SubjectMatcher) -> str:
    """A subject matcher in the CLI's flag syntax (``*`` for prefix / suffix matching)."""
    if matcher.kind == "exact":
        return matcher.value
    if matcher.kind == "hasPrefix":
        return matcher.value + "*"
    if matcher.kind == "hasSuffix":
        return "*" + matcher.value
    raise BackendError(
        f"the {matcher.kind} client certificate subject {matcher.value!r} cannot be removed "
        "with CLI flags",
        hint="remove the whole validation section by hand with `akka routes edit NAME`",
    )


def differing_fields(live: RouteSpec | None, planned: RouteSpec) -> list[str]:
    """Descriptor field names where ``live`` is not ``planned`` (never their values)."""
    if live is None:
        return ["(route missing)"]
    fields = ["host"] if live.host != planned.host else []
    prefixes = sorted({r.prefix for r in live.paths} | {r.prefix for r in planned.paths})
    fields += [f"routes[{p}]" for p in prefixes if live.path(p) != planned.path(p)]
    for label, attr in (("corsPolicy", "cors"), ("tls", "tls"), ("validation", "validation")):
        if getattr(live, attr) != getattr(planned, attr):
            fields.append(label)
    return fields
