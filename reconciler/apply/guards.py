"""The guards every apply passes, from the plan made now: errors, empty desired set and
--max-deletes. (A saved plan is planned again first: ``apply/rederive.py``.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.errors import GuardError
from reconciler.plan import Plan

if TYPE_CHECKING:
    from reconciler.apply.applier import ApplyOptions


def check_guards(plan: Plan, options: ApplyOptions) -> None:
    """Refuse plans with errors, prunes of an empty desired set, and too many deletes."""
    errors = [d for d in plan.diagnostics if d.severity == "error"]
    if errors:
        named = "; ".join(_where(d.file, d.line) + d.message for d in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise GuardError(
            f"refusing to apply a plan with {len(errors)} error(s): {named}{more}",
            hint="fix the descriptors (`routes validate`), then plan again",
        )
    deletes = [c.route for c in plan.changes if c.action == "delete"]
    if deletes and plan.desired_count == 0 and not options.allow_empty:
        raise GuardError(
            f"refusing to delete {len(deletes)} route(s): the desired set is empty",
            hint="check the descriptor paths; pass --allow-empty if every route should go",
        )
    if len(deletes) > options.max_deletes:
        raise GuardError(
            f"refusing to delete {len(deletes)} routes (more than --max-deletes "
            f"{options.max_deletes}); pass --max-deletes {len(deletes)} if intended",
            hint="routes to delete: " + ", ".join(deletes),
        )


def _where(file: str | None, line: int | None) -> str:
    if file is None:
        return ""
    return f"{file}:{line}: " if line is not None else f"{file}: "
