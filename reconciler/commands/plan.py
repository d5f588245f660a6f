"""``routes plan``: show what apply would change, and save it for ``routes apply FILE``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo, render_plan
from reconciler.commands.planning import plan_or_refuse
from reconciler.errors import EXIT_CHANGES, EXIT_OK, UsageError
from reconciler.gcpause import gc_paused

if TYPE_CHECKING:
    from reconciler.config import Settings


@gc_paused()  # a command run builds thousands of routes and plan entries, no cycles
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
) -> int:
    """Plan, print the plan (and save it to ``out``); with ``detailed_exitcode``, 2 when
    there are changes. Flags are checked before the config is read or anything planned."""
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
    the_plan = planned.plan
    if out:
        from reconciler.apply.saved_plan import write_plan_file

        write_plan_file(the_plan, out)
    echo(render_plan(the_plan, fmt, color))
    if out and fmt == "text":
        echo(f'\nSaved the plan to {out}. Apply exactly this plan with "routes apply {out}".')
    if github_comment:
        from reconciler.integrations.github.publish import publish_plan

        echo(publish_plan(the_plan.to_dict(), out), err=True)
    return EXIT_CHANGES if detailed_exitcode and the_plan.has_changes else EXIT_OK
