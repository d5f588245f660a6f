"""A saved plan against a fresh one: what a reviewer approved is applied, or nothing.

``routes apply PLAN.json`` never executes the file. It plans again, from the descriptors the
file names, against the live routes read now and under the guards of now; then
``compare`` holds the two side by side, route by route. The changes applied are the fresh
plan's, restricted to the saved plan's routes, and only when each one equals the saved one
(or its route is already as the saved plan wants it). So an edited file can do no more
than a refused apply. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.model import LABEL_OWNER, LiveRoute, RouteSpec
from reconciler.plan import Change, Plan
from reconciler.quoting import quote

__all__ = ["Difference", "compare"]

# Not compared: the version (a route rewritten with the same content is still as reviewed;
# writes are conditional on the version read now) and where the descriptor file is shown
# from (a path relative to the folder the command ran in).
_NOT_COMPARED = frozenset({"live_version", "file", "line"})
_STALE_FIELDS = frozenset({"before", "live_fingerprint"})


@dataclass(frozen=True)
class Difference:
    """How the saved plan and the fresh one disagree about one route."""

    route: str
    what: str
    stale: bool = False  # the live route changed since the plan was made

    def describe(self) -> str:
        # Route names of a plan file are checked by its schema (DNS labels): shown as is.
        return f"route {self.route}: {self.what}"


def compare(
    saved: Plan,
    fresh: Plan,
    live: Mapping[str, LiveRoute],
    desired: Mapping[str, RouteSpec],
) -> tuple[list[Difference], tuple[Change, ...]]:
    """The differences between ``saved`` and ``fresh``, and the fresh changes to apply.

    ``live`` holds the routes the fresh plan was made from and ``desired`` the specs the
    descriptors give now; a saved change whose route is already in its planned state
    counts as done (a saved plan applied half-way applies again)."""
    fresh_by_route = {change.route: change for change in fresh.changes}
    differences: list[Difference] = []
    kept: list[Change] = []
    seen: set[str] = set()
    for change in saved.changes:
        if change.route in seen:
            differences.append(Difference(change.route, "the saved plan lists it twice"))
            continue
        seen.add(change.route)
        now = fresh_by_route.get(change.route)
        if now is None:
            if _done(change, live.get(change.route), desired.get(change.route), saved.owner):
                kept.append(_as_done(change))  # its apply reads it and reports it done
            else:
                differences.append(
                    Difference(change.route, _not_planned_now(change, fresh, desired))
                )
            continue
        found = _field_differences(change, now)
        if found:
            stale = bool(found & _STALE_FIELDS)
            what = (
                "it changed since the plan was made"
                if stale
                else f"the saved plan's {_fields(found)} differ from a fresh plan's"
                f"{_spec_detail(change, now, found)}"
            )
            differences.append(Difference(change.route, what, stale=stale))
            continue
        kept.append(now)
    return differences, tuple(kept)


def _done(change: Change, route: LiveRoute | None, spec: RouteSpec | None, owner: str) -> bool:
    """Whether the route is already as the saved change wants it (secrets included)."""
    if change.action == "delete":
        return route is None
    return (
        route is not None
        and spec is not None
        and route.spec == spec
        and route.labels.get(LABEL_OWNER, owner) == owner
    )


def _as_done(change: Change) -> Change:
    """A saved change whose route is already as wanted, with nothing taken from the file
    that a write could use: were the route to change before the apply reads it, the
    apply finds it neither as found nor as wanted, a conflict (a missing route that
    should exist is created from the descriptors with this owner's labels)."""
    return replace(
        change,
        live_version=None,
        live_fingerprint=None,
        live_digest=None,
        labels={},
        annotations={},
    )


def _not_planned_now(change: Change, fresh: Plan, desired: Mapping[str, RouteSpec]) -> str:
    """Why a fresh plan has no such change, as far as the fresh plan says."""
    verb = {"create": "creates", "update": "updates", "delete": "deletes"}.get(
        change.action, change.action
    )
    said = [d.message for d in fresh.diagnostics if d.route == change.route]
    if said:
        why = said[0]
    elif any(u.get("route") == change.route for u in fresh.unmanaged):
        why = "it is not a route of this owner"
    elif change.action == "delete" and change.route in desired:
        why = "the descriptors describe it"
    elif change.action == "delete" and not fresh.prune:
        why = "the plan was made without --prune"
    elif change.action != "delete" and change.route not in desired:
        why = "the descriptors do not describe it"
    else:
        why = "the live route does not call for it"
    return f"the saved plan {verb} it, but a fresh plan does not ({why})"


def _field_differences(saved: Change, fresh: Change) -> set[str]:
    ours, theirs = saved.to_dict(), fresh.to_dict()
    keys = (ours.keys() | theirs.keys()) - _NOT_COMPARED
    return {key for key in keys if ours.get(key) != theirs.get(key)}


def _fields(found: set[str]) -> str:
    return ", ".join(f"`{key}`" for key in sorted(found))


def _spec_detail(saved: Change, fresh: Change, found: set[str]) -> str:
    """What the saved plan would write that the descriptors do not say (paths, host)."""
    if not found & {"after", "spec", "operations"} or saved.after is None or fresh.after is None:
        return ""
    ours, theirs = _rules(saved.after), _rules(fresh.after)
    extra = [f"{prefix} -> {service}" for prefix, service in sorted(ours.items() - theirs.items())]
    if saved.after.get("host") != fresh.after.get("host"):
        extra.insert(0, f"host {saved.after.get('host')}")
    if not extra:
        return ""
    shown = ", ".join(quote(item[:120]) for item in extra[:3])
    more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
    return f": it would write {shown}{more}, which the descriptors do not say"


def _rules(spec: Mapping[str, Any]) -> dict[str, str]:
    rules = spec.get("routes") if isinstance(spec, Mapping) else None
    return {
        str(rule.get("prefix")): str((rule.get("route") or {}).get("service"))
        for rule in rules or ()
        if isinstance(rule, Mapping)
    }
