"""``routes drift``: compare live routes with the descriptors; 2 when they drifted.

Whether a missing route was applied before is read from what the backend and git hold, so
a fresh CI runner classifies as a laptop does: the newest ``routes/source-commit`` this
owner's live routes carry is the last commit ``routes`` applied, and a route described at
that commit was written by that apply. Only descriptors outside git fall back to the local
apply journal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo, Write, echo_chunks
from reconciler.commands.planning import Planned, plan_or_refuse
from reconciler.drift import AppliedBefore
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.gcpause import gc_paused
from reconciler.model import ANNOTATION_COMMIT

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
    write: Write | None = None,
) -> int:
    """Print the drift report (``text``, ``markdown`` or ``json``); with ``github_issue``,
    open, update or close the drift issue too."""
    from reconciler import drift as drifting
    from reconciler.render import drift as render_drift

    if github_issue:
        from reconciler.integrations.github.publish import check_context

        check_context(pull_request=False)
    planned = plan_or_refuse(load_settings(), paths, echo=echo, prune=True)
    planned.backend.close()
    report = drifting.classify_drift(planned.plan, planned.live, applied_before(planned))
    if fmt == "json":
        from reconciler.render.json import drift_json_chunks

        (write or echo_chunks(echo))(drift_json_chunks(report))
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


def applied_before(planned: Planned) -> AppliedBefore:
    """The routes an earlier apply wrote, from the backend's provenance and git history."""
    if not any(change.action == "create" for change in planned.plan.changes):
        return AppliedBefore()  # nothing is missing live: nothing to tell apart
    git = planned.source.git
    if git is None:
        from reconciler.apply.journal import routes_applied_in_journal

        settings = planned.settings
        folder = settings.journal_dir or settings.state_dir / "journal"
        return AppliedBefore(frozenset(routes_applied_in_journal(folder)))
    from reconciler.integrations import git as gitops

    unmanaged = {entry["route"] for entry in planned.plan.unmanaged}
    stamped = [
        route.annotations.get(ANNOTATION_COMMIT, "")
        for name, route in planned.live.items()
        if name not in unmanaged
    ]
    newest = gitops.newest_commit(git.root, stamped)
    if newest is None:
        return AppliedBefore()
    paths = [_repo_relative(git.root, path) for path in planned.source.paths]
    described = gitops.routes_described_at(git.root, newest, [p for p in paths if p])
    return AppliedBefore(frozenset(described), newest)


def _repo_relative(root: Path, path: str) -> str | None:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None  # a descriptor path outside the repository has no history there
