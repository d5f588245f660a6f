"""``routes plan``: show what apply would change, and save it for ``routes apply FILE``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from reconciler.apply.guards import guard_refusals
from reconciler.commands.common import Echo, Write, backend_shown, print_plan
from reconciler.commands.planning import plan_or_refuse
from reconciler.commands.traffic_tests import PLANNED_ORIGIN, plan_with_tests, summary
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, PlanError, UsageError
from reconciler.gcpause import gc_paused

if TYPE_CHECKING:
    from reconciler.config import Settings
    from reconciler.integrations.git_status import GitFacts


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
    write: Write | None = None,
    adopt: Sequence[str] = (),
    max_deletes: int | None = None,
    allow_empty: bool = False,
    git_facts: GitFacts | None = None,
) -> int:
    """Plan, print the plan (and save it to ``out``); with ``detailed_exitcode``, 1 when
    ``apply`` would refuse it (its guards, with ``max_deletes`` and ``allow_empty``), else 2
    when live state differs from the descriptors (changes, or owned routes kept though no
    longer described). Flags are checked before the config is read or anything planned.
    ``git_facts``: the repository's facts, started early by the caller."""
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
        adopt=adopt,
        git_facts=git_facts,
    )
    planned.backend.close()
    the_plan, tests = plan_with_tests(planned)
    limit = planned.settings.max_deletes if max_deletes is None else max_deletes
    refusals = guard_refusals(the_plan, max_deletes=limit, allow_empty=allow_empty)
    the_plan = replace(the_plan, refusals=refusals)
    failed = tests.failed if tests is not None else 0
    saved = None if failed else out
    if saved:
        from reconciler.apply.saved_plan import write_plan_file

        write_plan_file(the_plan, saved)
    shown = backend_shown(planned.settings, planned.backend)
    print_plan(the_plan, fmt, color, shown, echo=echo, write=write)
    if saved and fmt == "text":
        echo(f'\nSaved the plan to {out}. Apply exactly this plan with "routes apply {out}".')
    if github_comment:
        from reconciler.integrations.github.publish import READ_ONLY_NOTE, publish_plan

        echo(publish_plan(the_plan.to_dict(), saved) or READ_ONLY_NOTE, err=True)
    if tests is not None:
        echo(summary(tests, PLANNED_ORIGIN), err=True)
    if failed:
        unsaved = f"; it was not saved to {out}" if out else ""
        raise PlanError(
            f"the plan fails {failed} traffic test(s), listed above{unsaved}",
            hint="fix the descriptors, or the expectation if the move is intended",
        )
    if not detailed_exitcode:
        return EXIT_OK
    if the_plan.refusals:
        return EXIT_ERROR
    return EXIT_CHANGES if the_plan.differs else EXIT_OK
