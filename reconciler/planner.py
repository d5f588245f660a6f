"""(desired, live, options) -> Plan (README: "Ownership", "Plans"). Pure and deterministic.

The planner only ever sees canonical ``RouteSpec`` values: two specs the platform treats the
same compare equal, so labels, annotations, versions and field order never make a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from reconciler.diagnostics import (
    CODE_ADOPT_UNMATCHED,
    CODE_KEPT_WITHOUT_PRUNE,
    CODE_PROTECTED,
    CODE_UNKNOWN_TARGET,
    CODE_UNMANAGED_CLASH,
    Diagnostic,
    diagnostic,
)
from reconciler.model import (
    ANNOTATION_COMMIT,
    ANNOTATION_DIGEST,
    ANNOTATION_PATH,
    LABEL_MANAGED_BY,
    LABEL_MANAGED_BY_VALUE,
    LABEL_OWNER,
    DesiredRoute,
    LiveRoute,
    RouteSet,
)
from reconciler.plan import Change, Plan
from reconciler.renames import rename_diagnostics
from reconciler.spec_diff import RISK_ORDER, compute_operations, risks
from reconciler.traffic import plan_traffic

# Stable diagnostic codes: users grep for them and CI filters on them.

REASON_NOT_IN_CONFIGURATION = "not-in-configuration"

__all__ = [
    "REASON_NOT_IN_CONFIGURATION",
    "RISK_ORDER",
    "PlanOptions",
    "compute_operations",
    "is_owned",
    "make_plan",
]

_ACTION_ORDER = {"create": 0, "adopt": 1, "update": 2, "delete": 3}


@dataclass(frozen=True)
class PlanOptions:
    """Everything besides desired and live state that shapes a plan."""

    owner: str
    backend_url: str
    tool_version: str
    prune: bool = False
    protected: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    labels_supported: bool = True
    source_paths: tuple[str, ...] = ()
    source_digest: str | None = None
    git: Mapping[str, Any] | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    adopt: tuple[str, ...] = ()  # --adopt: name globs of unmanaged live routes to take over


def is_owned(route: LiveRoute, options: PlanOptions) -> bool:
    """Whether this owner manages ``route``: by labels, or by ``scope`` globs without labels."""
    if options.labels_supported:
        return (
            route.labels.get(LABEL_MANAGED_BY) == LABEL_MANAGED_BY_VALUE
            and route.labels.get(LABEL_OWNER) == options.owner
        )
    return any(fnmatchcase(route.name, glob) for glob in options.scope)


def make_plan(desired: RouteSet, live: Iterable[LiveRoute], options: PlanOptions) -> Plan:
    """Diff the desired routes against live ones and return the plan; never touches a backend."""
    live_by_name = {route.name: route for route in live}
    targets = set(options.targets)
    diagnostics = [*options.diagnostics, *_unknown_targets(targets, desired, live_by_name)]

    def in_targets(name: str) -> bool:
        return not targets or name in targets

    changes: list[Change] = []
    unchanged = 0
    created: list[DesiredRoute] = []
    for route in (route for name, route in desired.items() if in_targets(name)):
        current = live_by_name.get(route.name)
        if current is None:
            changes.append(_create(route, options))
            created.append(route)
        elif not is_owned(current, options):
            if _adoptable(current, options):
                changes.append(_adopt(route, current, options))
            else:
                diagnostics.append(_clash(route, current, options))
        elif current.spec == route.spec:
            unchanged += 1
        else:
            changes.append(_update(route, current, options))
    gone: list[LiveRoute] = []
    for name, current in sorted(live_by_name.items()):
        if name not in desired and in_targets(name) and is_owned(current, options):
            gone.append(current)
            outcome = _undescribed(current, options)
            if isinstance(outcome, Change):
                changes.append(outcome)
            else:
                diagnostics.append(outcome)
    deleted = {c.route for c in changes if c.action == "delete"}
    diagnostics += rename_diagnostics(created, gone, deleted)
    adopted = {c.route for c in changes if c.action == "adopt"}
    diagnostics += _adopt_unmatched(options, adopted)
    changes.sort(key=lambda c: (_ACTION_ORDER[c.action], c.route))
    return Plan(
        backend=options.backend_url,
        owner=options.owner,
        tool_version=options.tool_version,
        changes=tuple(changes),
        unchanged=unchanged,
        # The empty-set guard asks whether anything is described at all, not whether the
        # --target selection is empty.
        desired_count=len(desired),
        unmanaged=_unmanaged((r for r in live_by_name.values() if r.name not in adopted), options),
        diagnostics=tuple(diagnostics),
        source_paths=options.source_paths,
        source_digest=options.source_digest,
        git=options.git,
        prune=options.prune,
        targets=tuple(sorted(targets)),
        traffic=plan_traffic(desired, live_by_name, changes),
    )


def _unknown_targets(
    targets: set[str], desired: RouteSet, live: Mapping[str, LiveRoute]
) -> list[Diagnostic]:
    return [
        diagnostic(
            code=CODE_UNKNOWN_TARGET,
            message=f'target "{target}" is neither in the descriptors nor on the '
            "backend; check the name passed to --target",
            route=target,
        )
        for target in sorted(targets)
        if target not in desired and target not in live
    ]


def _undescribed(current: LiveRoute, options: PlanOptions) -> Change | Diagnostic:
    """What becomes of an owned live route no descriptor names: kept, protected or deleted."""
    if not options.prune:
        return _kept(current)
    protecting = next((g for g in options.protected if fnmatchcase(current.name, g)), None)
    if protecting is not None:
        return diagnostic(
            code=CODE_PROTECTED,
            message=f'route "{current.name}" is no longer in the descriptors but matches '
            f'protected pattern "{protecting}"; it is kept (to delete it, take the pattern out'
            " of `protected` in .routes.yaml)",
            route=current.name,
        )
    return _delete(current)


def _stamp(route: DesiredRoute, options: PlanOptions) -> dict[str, Any]:
    digest = route.spec.fingerprint()
    commit = (options.git or {}).get("commit") or ""
    return {
        "after_fingerprint": digest,
        "labels": {LABEL_MANAGED_BY: LABEL_MANAGED_BY_VALUE, LABEL_OWNER: options.owner},
        "annotations": {
            ANNOTATION_COMMIT: str(commit),
            ANNOTATION_PATH: route.source.file,
            ANNOTATION_DIGEST: digest,
        },
    }


def _create(route: DesiredRoute, options: PlanOptions) -> Change:
    return Change(
        route=route.name,
        action="create",
        file=route.source.file,
        line=route.source.line,
        after=route.spec.to_dict(redact=True),
        risks=risks(None, route.spec),
        **_stamp(route, options),
    )


def _update(route: DesiredRoute, current: LiveRoute, options: PlanOptions) -> Change:
    return Change(
        route=route.name,
        action="update",
        file=route.source.file,
        line=route.source.line,
        before=current.spec.to_dict(redact=True),
        after=route.spec.to_dict(redact=True),
        live_version=current.version,
        live_fingerprint=current.spec.fingerprint(),
        live_digest=current.spec.private_digest(),
        operations=compute_operations(current.spec, route.spec),
        risks=risks(current.spec, route.spec),
        **_stamp(route, options),
    )


def _delete(current: LiveRoute) -> Change:
    return Change(
        route=current.name,
        action="delete",
        reason=REASON_NOT_IN_CONFIGURATION,
        before=current.spec.to_dict(redact=True),
        live_version=current.version,
        live_fingerprint=current.spec.fingerprint(),
        live_digest=current.spec.private_digest(),
        risks=risks(current.spec, None),
    )


def _adoptable(current: LiveRoute, options: PlanOptions) -> bool:
    """Whether ``--adopt`` takes ``current`` over: it matches, and no other owner manages it."""
    if not options.labels_supported or not any(fnmatchcase(current.name, g) for g in options.adopt):
        return False
    managed = current.labels.get(LABEL_MANAGED_BY) == LABEL_MANAGED_BY_VALUE
    return not (managed and current.labels.get(LABEL_OWNER))


def _adopt(route: DesiredRoute, current: LiveRoute, options: PlanOptions) -> Change:
    """Put this owner's labels on an unmanaged live route, and its spec if it differs.
    Its other labels stay; its annotations become routes' own (a foreign annotation may
    hold anything, and a plan file holds no secret)."""
    update = _update(route, current, options)
    return replace(update, action="adopt", labels={**current.labels, **update.labels})


def _adopt_unmatched(options: PlanOptions, adopted: set[str]) -> list[Diagnostic]:
    return [
        diagnostic(
            code=CODE_ADOPT_UNMATCHED,
            message=f'--adopt "{glob}" matches no unmanaged live route that a descriptor '
            "describes; nothing is adopted for it (routes of another owner are never adopted)",
        )
        for glob in options.adopt
        if not any(fnmatchcase(name, glob) for name in adopted)
    ]


def _clash(route: DesiredRoute, current: LiveRoute, options: PlanOptions) -> Diagnostic:
    holder = current.labels.get(LABEL_OWNER)
    by = f' (it belongs to owner "{holder}")' if holder and options.labels_supported else ""
    return diagnostic(
        code=CODE_UNMANAGED_CLASH,
        message=f'route "{route.name}" exists on the backend but is not managed by owner '
        f'"{options.owner}"{by}; it is left untouched. Rename the route in the descriptors, '
        + _clash_advice(route.name, by, options),
        file=route.source.file,
        line=route.source.line,
        column=route.source.column,
        route=route.name,
    )


def _clash_advice(name: str, by: str, options: PlanOptions) -> str:
    if by:  # another owner's route: never adopted
        return "or delete the live route (or give it this owner's labels) by hand"
    if not options.labels_supported:
        return f"delete the live route by hand, or add {name} to `scope` in .routes.yaml"
    return f"delete the live route by hand, or take it over with `--adopt {name}` (plan, apply)"


def _kept(current: LiveRoute) -> Diagnostic:
    return diagnostic(
        code=CODE_KEPT_WITHOUT_PRUNE,
        message=f'route "{current.name}" is no longer in the descriptors; it is kept '
        "— plan with --prune to delete it",
        route=current.name,
    )


def _unmanaged(live: Iterable[LiveRoute], options: PlanOptions) -> tuple[dict[str, str], ...]:
    out: list[dict[str, str]] = []
    for route in sorted(live, key=lambda r: r.name):
        if is_owned(route, options):
            continue
        entry = {"route": route.name, "host": route.spec.host}
        holder = route.labels.get(LABEL_OWNER)
        if options.labels_supported and holder and holder != options.owner:
            entry["owner"] = holder
        out.append(entry)
    return tuple(out)
