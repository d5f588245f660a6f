"""How two route specs differ: the in-place operations and the risk tags of a change.

Pure: a plan's changes are described from these, and secrets stay redacted in them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import SENSITIVE, RouteSpec, Validation
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
    "FieldDifference",
    "compute_operations",
    "field_differences",
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


@dataclass(frozen=True)
class FieldDifference:
    """One field where a live route and its descriptor disagree (None: absent on that side).
    ``key`` is the path prefix of a path field; an element of a list field (a CORS origin, a
    method, a subject matcher) is its own difference, present on one side only."""

    field: str
    live: Any
    described: Any
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "key": self.key,
            "live": self.live,
            "described": self.described,
        }


def field_differences(
    live: Mapping[str, Any] | None,
    described: Mapping[str, Any] | None,
    secrets_changed: Collection[str] = (),
) -> tuple[FieldDifference, ...]:
    """How the live spec differs from the described one, field by field. Both are redacted
    canonical dicts (None: no such route); ``secrets_changed`` names the redacted leaves
    (``validation.httpBasic.passwordHashes.USER``) whose hidden values differ."""
    old, new = live or {}, described or {}
    found: list[FieldDifference] = []
    if old.get("host") != new.get("host"):
        found.append(FieldDifference("host", old.get("host"), new.get("host")))
    found += _path_differences(old.get("routes") or (), new.get("routes") or ())
    for root in ("corsPolicy", "tls", "validation"):
        found += _leaf_differences(_leaves(old.get(root), root), _leaves(new.get(root), root))
    found += [
        FieldDifference(f"validation.{name}", SENSITIVE, SENSITIVE)
        for name in sorted(secrets_changed)
    ]
    return tuple(found)


def _path_differences(
    live: Collection[Mapping[str, Any]], described: Collection[Mapping[str, Any]]
) -> list[FieldDifference]:
    old = {rule["prefix"]: rule for rule in live}
    new = {rule["prefix"]: rule for rule in described}
    found: list[FieldDifference] = []
    for prefix in sorted(old.keys() | new.keys()):
        was, wanted = old.get(prefix), new.get(prefix)
        services = [rule["route"]["service"] if rule else None for rule in (was, wanted)]
        if services[0] != services[1]:
            found.append(FieldDifference("path", services[0], services[1], key=prefix))
        if was is None or wanted is None:
            continue
        for option in sorted((was.keys() | wanted.keys()) - {"prefix", "route"}):
            if was.get(option) != wanted.get(option):
                found.append(
                    FieldDifference(f"path.{option}", was.get(option), wanted.get(option), prefix)
                )
    return found


def _leaves(value: Any, root: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {} if value is None else {root: value}
    out: dict[str, Any] = {}
    for key, inner in value.items():
        out.update(_leaves(inner, f"{root}.{key}"))
    return out


def _leaf_differences(
    live: Mapping[str, Any], described: Mapping[str, Any]
) -> list[FieldDifference]:
    found: list[FieldDifference] = []
    for leaf in sorted(live.keys() | described.keys()):
        was, wanted = live.get(leaf), described.get(leaf)
        if isinstance(was, list) or isinstance(wanted, list):
            # Sets in canonical form: say which elements one side has and the other lacks.
            old = {json.dumps(item, sort_keys=True): item for item in was or ()}
            new = {json.dumps(item, sort_keys=True): item for item in wanted or ()}
            found += [FieldDifference(leaf, old[k], None) for k in sorted(old.keys() - new.keys())]
            found += [FieldDifference(leaf, None, new[k]) for k in sorted(new.keys() - old.keys())]
        elif was != wanted:
            found.append(FieldDifference(leaf, was, wanted))
    return found
