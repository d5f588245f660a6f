"""How two route specs differ: the in-place operations and the risk tags of a change.

Pure: a plan's changes are described from these, and secrets stay redacted in them.
"""

from __future__ import annotations

from reconciler.model import RouteSpec, Validation
from reconciler.plan import Operation

# Risk tags in the order they are listed on a change.
RISK_ORDER = (
    "delete",
    "host-changed",
    "path-removed",
    "cors-wildcard",
    "mtls-removed",
    "basic-auth-removed",
)

__all__ = [
    "RISK_ORDER",
    "compute_operations",
    "risks",
]


def compute_operations(before: RouteSpec, after: RouteSpec) -> tuple[Operation, ...]:
    """The in-place operations that turn ``before`` into ``after``; secrets stay redacted."""
    ops: list[Operation] = []
    if before.host != after.host:
        ops.append(Operation("set-host", before=before.host, after=after.host))
    old = {rule.prefix: rule for rule in before.paths}
    new = {rule.prefix: rule for rule in after.paths}
    ops += [
        Operation("add-path", prefix=p, service=new[p].service)
        for p in sorted(new.keys() - old.keys())
    ]
    ops += [
        Operation("remove-path", prefix=p, service=old[p].service)
        for p in sorted(old.keys() - new.keys())
    ]
    common = sorted(old.keys() & new.keys())
    ops += [
        Operation("set-path-service", prefix=p, before=old[p].service, after=new[p].service)
        for p in common
        if old[p].service != new[p].service
    ]
    ops += [
        Operation(
            "set-path-options",
            prefix=p,
            service=new[p].service,
            before=old[p].options(),
            after=new[p].options(),
        )
        for p in common
        if old[p].options() != new[p].options()
    ]
    for op, old_part, new_part in (
        ("set-cors", before.cors, after.cors),
        ("set-tls", before.tls, after.tls),
    ):
        if old_part != new_part:
            ops.append(
                Operation(
                    op,
                    before=old_part.to_dict() if old_part else None,
                    after=new_part.to_dict() if new_part else None,
                )
            )
    if before.validation != after.validation:
        ops.append(
            Operation(
                "set-validation",
                before=before.validation.to_dict(redact=True) if before.validation else None,
                after=after.validation.to_dict(redact=True) if after.validation else None,
                changed=_changed_secrets(before.validation, after.validation),
            )
        )
    return tuple(ops)


def _changed_secrets(before: Validation | None, after: Validation | None) -> tuple[str, ...]:
    # Redaction makes a changed hash look unchanged; name it so the plan still says so.
    old = dict(before.http_basic.password_hashes) if before and before.http_basic else {}
    new = dict(after.http_basic.password_hashes) if after and after.http_basic else {}
    return tuple(
        f"httpBasic.passwordHashes.{user}"
        for user in sorted(old.keys() & new.keys())
        if old[user] != new[user]
    )


def risks(before: RouteSpec | None, after: RouteSpec | None) -> tuple[str, ...]:
    """The risk tags of a change from ``before`` to ``after`` (None: absent), in RISK_ORDER."""
    found: set[str] = set()
    if after is None:
        found.add("delete")
    if before is not None and after is not None:
        if before.host != after.host:
            found.add("host-changed")
        if {r.prefix for r in before.paths} - {r.prefix for r in after.paths}:
            found.add("path-removed")
        if _has_ca(before) and not _has_ca(after):
            found.add("mtls-removed")
        if _has_basic(before) and not _has_basic(after):
            found.add("basic-auth-removed")
    if after is not None and _wildcard(after) and (before is None or not _wildcard(before)):
        found.add("cors-wildcard")
    return tuple(risk for risk in RISK_ORDER if risk in found)


def _wildcard(spec: RouteSpec) -> bool:
    return spec.cors is not None and "*" in spec.cors.origins


def _has_ca(spec: RouteSpec) -> bool:
    return spec.tls is not None and spec.tls.client_validation_ca is not None


def _has_basic(spec: RouteSpec) -> bool:
    return spec.validation is not None and spec.validation.http_basic is not None
