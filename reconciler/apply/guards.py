"""The checks before an apply: guards, and a saved plan's desired specs and
freshness against the live routes read now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.errors import GuardError, PlanError, StalePlanError
from reconciler.model import SENSITIVE as SENSITIVE_MARK
from reconciler.model import RouteSpec
from reconciler.plan import Plan, Refusal
from reconciler.retry import retry_transient

if TYPE_CHECKING:
    from reconciler.apply.applier import ApplyOptions
    from reconciler.backends.base import Backend


def check_guards(plan: Plan, options: ApplyOptions) -> None:
    """Refuse plans with errors, prunes of an empty desired set, and too many deletes."""
    for refusal in guard_refusals(
        plan, max_deletes=options.max_deletes, allow_empty=options.allow_empty
    ):
        raise GuardError(refusal.message, hint=refusal.hint)


def guard_refusals(plan: Plan, *, max_deletes: int, allow_empty: bool) -> tuple[Refusal, ...]:
    """Every guard ``apply`` would refuse ``plan`` by, with these flags; () when none would."""
    found: list[Refusal] = []
    errors = [d for d in plan.diagnostics if d.severity == "error"]
    if errors:
        named = "; ".join(_where(d.file, d.line) + d.message for d in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        found.append(
            Refusal(
                "errors",
                f"refusing to apply a plan with {len(errors)} error(s): {named}{more}",
                "fix the descriptors (`routes validate`), then plan again",
            )
        )
    deletes = [c.route for c in plan.changes if c.action == "delete"]
    if deletes and plan.desired_count == 0 and not allow_empty:
        found.append(
            Refusal(
                "empty-desired-set",
                f"refusing to delete {len(deletes)} route(s): the desired set is empty",
                "check the descriptor paths; pass --allow-empty if every route should go",
            )
        )
    if len(deletes) > max_deletes:
        found.append(
            Refusal(
                "max-deletes",
                f"refusing to delete {len(deletes)} routes (more than --max-deletes "
                f"{max_deletes}); pass --max-deletes {len(deletes)} if intended",
                "routes to delete: " + ", ".join(deletes),
            )
        )
    return tuple(found)


def _where(file: str | None, line: int | None) -> str:
    if file is None:
        return ""
    return f"{file}:{line}: " if line is not None else f"{file}: "


def _mentions_secret(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_mentions_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions_secret(v) for v in value)
    return bool(value == SENSITIVE_MARK)


def resolve_desired_specs(
    plan: Plan, loaded: Mapping[str, RouteSpec] | None
) -> dict[str, RouteSpec]:
    """The full desired spec of every create/update: from ``loaded`` or the plan itself."""
    specs: dict[str, RouteSpec] = {}
    for change in plan.changes:
        if change.action == "delete":
            continue
        candidate = (loaded or {}).get(change.route)
        if candidate is not None and candidate.fingerprint() == change.after_fingerprint:
            specs[change.route] = candidate
            continue
        if change.after is None or _mentions_secret(change.after):
            raise StalePlanError(
                f"plan is stale: the descriptors of route {change.route} changed since the "
                "plan was made (its secrets cannot be stored in a plan)",
                hint="run `routes plan` again",
            )
        spec = RouteSpec.from_dict(change.after)
        if change.after_fingerprint is not None and spec.fingerprint() != change.after_fingerprint:
            raise PlanError(
                f"plan is inconsistent: the spec of route {change.route} does not match its "
                "after_fingerprint",
                hint="the plan file was edited or damaged; run `routes plan` again",
            )
        specs[change.route] = spec
    return specs


def check_fresh(plan: Plan, backend: Backend) -> None:
    """Raise ``StalePlanError`` unless every touched route is as planned or as wanted."""
    touched = [c.route for c in plan.changes]
    live = retry_transient(lambda: backend.get_routes(touched))
    stale: list[str] = []
    for change in plan.changes:
        route = live.get(change.route)
        fingerprint = route.spec.fingerprint() if route is not None else None
        if change.action == "create":
            as_found = route is None
        else:
            as_found = route is not None and fingerprint == change.live_fingerprint
        if change.action == "delete":
            as_wanted = route is None
        else:
            as_wanted = route is not None and fingerprint == change.after_fingerprint
        if not (as_found or as_wanted):
            stale.append(change.route)
    if stale:
        others = f"also changed: {', '.join(stale[1:])}; " if len(stale) > 1 else ""
        raise StalePlanError(
            f"plan is stale: route {stale[0]} changed since the plan was made",
            hint=f"{others}run `routes plan --out PLAN.json` again and review it",
        )
