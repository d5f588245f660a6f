"""``routes plan``: show what apply would change, and save it for ``routes apply FILE``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from reconciler.apply.guards import guard_refusals
from reconciler.commands.common import Echo, render_plan
from reconciler.commands.planning import plan_or_refuse
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, UsageError

if TYPE_CHECKING:
    from reconciler.config import Settings


def plan(
    load_settings: Callable[[], Settings],
    paths: Sequence[str],
    *,
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    prune: bool | None,
    targets: Sequence[str],
    ref: str | None,
    changed_since: str | None,
    github_comment: bool,
    color: bool,
    echo: Echo,
    max_deletes: int | None = None,
    allow_empty: bool = False,
) -> int:
    """Plan, print the plan (and save it to ``out``); with ``detailed_exitcode``, 1 when
    ``apply`` would refuse it (its guards, with ``max_deletes`` and ``allow_empty``), else 2
    when live state differs from the descriptors (changes, or owned routes kept though no
    longer described). Flags are checked before the config is read or anything planned."""
    if ref and changed_since:
        raise UsageError("--ref and --changed-since cannot be used together")
    if github_comment:
        from reconciler.integrations.github.publish import check_context

        check_context(pull_request=True)
    planned = plan_or_refuse(
        load_settings(),
        paths,
        echo=echo,
        prune=prune,
        targets=targets,
        ref=ref,
        changed_since=changed_since,
    )
    planned.backend.close()
    limit = planned.settings.max_deletes if max_deletes is None else max_deletes
    refusals = guard_refusals(planned.plan, max_deletes=limit, allow_empty=allow_empty)
    the_plan = replace(planned.plan, refusals=refusals)
    if out:
        from reconciler.apply.saved_plan import write_plan_file

        write_plan_file(the_plan, out)
    echo(render_plan(the_plan, fmt, color))
    if out and fmt == "text":
        echo(f'\nSaved the plan to {out}. Apply exactly this plan with "routes apply {out}".')
    if github_comment:
        from reconciler.integrations.github.publish import publish_plan

        echo(publish_plan(the_plan.to_dict(), out), err=True)
    if not detailed_exitcode:
        return EXIT_OK
    if the_plan.refusals:
        return EXIT_ERROR
    return EXIT_CHANGES if the_plan.differs else EXIT_OK
