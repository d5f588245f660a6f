"""The guards every apply passes, from the plan made now: errors, empty desired set and
--max-deletes. (A saved plan is planned again first: ``apply/rederive.py``.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.errors import GuardError
from reconciler.plan import Plan, Refusal

if TYPE_CHECKING:
    from reconciler.apply.applier import ApplyOptions


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
