"""``routes drift``: compare live routes with the descriptors; 2 when they drifted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo
from reconciler.commands.planning import plan_or_refuse
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.gcpause import gc_paused
from reconciler.quoting import json_text

if TYPE_CHECKING:
    from reconciler.config import Settings


@gc_paused()  # a command run builds thousands of routes and plan entries, no cycles
def drift(
    load_settings: Callable[[], Settings],
    paths: Sequence[str],
    fmt: str,
    *,
    github_issue: bool,
    echo: Echo,
) -> int:
    """Print the drift report (``text``, ``markdown`` or ``json``); with ``github_issue``,
    open, update or close the drift issue too. Routes the journal says routes applied
    tell a hand edit from a change still to be applied."""
    from reconciler import drift as drifting
    from reconciler.apply.journal import routes_applied_in_journal
    from reconciler.render import drift as render_drift

    if github_issue:
        from reconciler.integrations.github.publish import check_context

        check_context(pull_request=False)
    planned = plan_or_refuse(load_settings(), paths, echo=echo, prune=True)
    planned.backend.close()
    settings = planned.settings
    applied = routes_applied_in_journal(settings.journal_dir or settings.state_dir / "journal")
    report = drifting.classify_drift(planned.plan, planned.live, applied)
    if fmt == "json":
        echo(json_text(report.to_dict()))
    elif fmt == "markdown":
        echo(render_drift.render_drift_markdown(report))
    else:
        echo(render_drift.render_drift_text(report))
    if github_issue:
        from reconciler.integrations.github.publish import publish_drift

        markdown = render_drift.render_drift_markdown(report)
        url = publish_drift(markdown, report.drifted, target=planned.plan.backend)
        if url:
            echo(url, err=True)
    return EXIT_CHANGES if report.drifted else EXIT_OK
