"""How the ``akka:`` backend turns one spec into another with CLI flags, and checks the result.

Whether ``update -f FILE`` merges or replaces is not documented, so after it the route is
read back and what is still there but not planned is removed with the documented
``--remove-…`` flags; a change of path services alone goes through ``--path`` /
``--remove-path``. Where the reference offers only "remove all" (HTTP basic credentials,
client certificate subjects) and the plan keeps part of the set, the set is reset: remove
all, then the same ``update -f FILE`` again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.backends.akka.surface import (
    PATH,
    REMOVE_CLIENT_CA,
    REMOVE_CORS_METHOD,
    REMOVE_CORS_ORIGIN,
    REMOVE_HTTP_BASIC,
    REMOVE_PATH,
    REMOVE_SERVER_CERTIFICATE,
    REMOVE_SUBJECTS,
)
from reconciler.model import RouteSpec


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
            flags += [PATH, f"{rule.prefix}={rule.service}"]
    kept = {rule.prefix for rule in after.paths}
    for rule in before.paths:
        if rule.prefix not in kept:
            flags += [REMOVE_PATH, rule.prefix]
    return flags


@dataclass(frozen=True)
class Cleanup:
    """What is left to do after ``update -f FILE``, from the route as it then reads back.

    ``removals`` drop only what the plan drops (documented per-item flags, or a documented
    "remove all" boolean when the plan keeps none of that set). ``resets`` are "remove all"
    booleans for a set the plan keeps part of (the reference has no per-item removal for
    HTTP basic users or client certificate subjects): they must be followed by the same
    ``update -f FILE`` again, which adds the planned members back.
    """

    removals: tuple[str, ...] = ()
    resets: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()  # what the removals take away, for messages
    reset: tuple[str, ...] = ()  # what the resets take away before it is re-added
    needs: tuple[tuple[str, str], ...] = ()  # (flag, what it removes) for every step

    def __bool__(self) -> bool:
        return bool(self.removals or self.resets)

    def beyond(self, can_remove: Callable[[str], bool]) -> list[str]:
        """What no flag of a CLI (``can_remove``) can remove, for messages."""
        return [what for flag, what in self.needs if not can_remove(flag)]


def cleanup_after_file(live: RouteSpec, planned: RouteSpec) -> Cleanup:
    """Flags that turn ``live`` (read back after a merging ``update -f``) into ``planned``.

    Only flags documented for ``akka routes update`` are produced (docs/akka.md).
    """
    removals: list[str] = []
    dropped: list[str] = []
    resets: list[str] = []
    reset: list[str] = []
    needs: list[tuple[str, str]] = []

    def remove(what: str, flag: str, *value: str, keeps_some: bool = False) -> None:
        (resets if keeps_some else removals).extend((flag, *value))
        (reset if keeps_some else dropped).append(what)
        needs.append((flag, what))

    kept = {rule.prefix for rule in planned.paths}
    for rule in live.paths:
        if rule.prefix not in kept:
            remove(f"path {rule.prefix}", REMOVE_PATH, rule.prefix)
    if live.cors:
        origins = planned.cors.origins if planned.cors else ()
        methods = planned.cors.methods if planned.cors else ()
        for origin in live.cors.origins:
            if origin not in origins:
                remove(f"CORS origin {origin}", REMOVE_CORS_ORIGIN, origin)
        for method in live.cors.methods:
            if method not in methods:
                remove(f"CORS method {method}", REMOVE_CORS_METHOD, method)
    if live.tls:
        if live.tls.client_validation_ca and not (planned.tls and planned.tls.client_validation_ca):
            remove("the client CA secret", REMOVE_CLIENT_CA)
        if live.tls.server_certificate and not (planned.tls and planned.tls.server_certificate):
            remove("the server certificate secret", REMOVE_SERVER_CERTIFICATE)
    live_v, plan_v = live.validation, planned.validation
    if live_v:
        wanted_subjects = set(plan_v.subject_matches) if plan_v else set()
        if set(live_v.subject_matches) - wanted_subjects:
            remove(
                "all client certificate subjects",
                REMOVE_SUBJECTS,
                keeps_some=bool(wanted_subjects),
            )
        live_users = dict(live_v.http_basic.password_hashes) if live_v.http_basic else {}
        plan_basic = plan_v.http_basic if plan_v else None
        plan_users = dict(plan_basic.password_hashes) if plan_basic else {}
        stale = {u for u, h in live_users.items() if plan_users.get(u) != h}
        if stale or (live_v.http_basic and not plan_basic):
            remove("all HTTP basic credentials", REMOVE_HTTP_BASIC, keeps_some=bool(plan_users))
    return Cleanup(tuple(removals), tuple(resets), tuple(dropped), tuple(reset), tuple(needs))


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
