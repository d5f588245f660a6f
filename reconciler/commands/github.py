"""``routes github comment|outputs PLAN_FILE``: a saved plan to the pull request and to the
Action's step outputs (what ``action.yml`` runs after ``routes plan --out``)."""

from __future__ import annotations

from reconciler.apply.saved_plan import read_plan_file
from reconciler.commands.common import Echo
from reconciler.errors import EXIT_OK


def comment(plan_file: str, *, target: str | None, pr: int | None, echo: Echo) -> int:
    """Create or update the plan comment on the pull request, write the step outputs, and
    print the comment's URL. The plan file is checked as ``routes apply`` checks it."""
    from reconciler.integrations.github.publish import publish_plan

    plan_dict = read_plan_file(plan_file).to_dict()
    echo(publish_plan(plan_dict, plan_file, target=target, pr=pr))
    return EXIT_OK


def outputs(plan_file: str) -> int:
    """Write the plan to the step summary and its counts to the step outputs."""
    from reconciler.integrations.github.publish import publish_outputs

    publish_outputs(read_plan_file(plan_file).to_dict(), plan_file)
    return EXIT_OK
