"""Traffic expectations checked against a routing table: ``routes test``, and ``plan``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.commands.common import Echo
from reconciler.descriptors.files import TESTS_FILE
from reconciler.diagnostics import Diagnostic, diagnostic
from reconciler.errors import EXIT_ERROR, EXIT_OK, UsageError
from reconciler.matching import RoutingTable
from reconciler.quoting import clean, json_text, quote

if TYPE_CHECKING:
    from reconciler.commands.planning import Planned
    from reconciler.config import Settings
    from reconciler.descriptors.expectations import Expectation
    from reconciler.plan import Plan

PLANNED_ORIGIN = "routes as this plan leaves them"


@dataclass(frozen=True)
class Outcome:
    """What checking a file found: failures (T001) and file problems, and the counts."""

    diagnostics: tuple[Diagnostic, ...]
    checked: int
    skipped: int = 0

    @property
    def failed(self) -> int:
        return len(self.diagnostics)


def tests_file(settings: Settings, given: str | None) -> tuple[Path, str]:
    """The expectations file (given, else ``.routes-tests.yaml`` next to the config) and
    how to show it."""
    path = Path(given) if given else settings.root / TESTS_FILE
    try:
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path)
    return path, shown


def run_tests(
    path: Path, display: str, table: RoutingTable, *, only_hosts: Sequence[str] | None = None
) -> Outcome:
    """Check every expectation of the file; with ``only_hosts``, only those on these hosts
    (a plan that read only some routes cannot judge the others)."""
    from reconciler.descriptors.expectations import load_expectations

    expectations, problems = load_expectations(path, display)
    wanted = [e for e in expectations if only_hosts is None or e.target.host in only_hosts]
    failures = [f for f in (_check(e, table) for e in wanted) if f is not None]
    return Outcome(tuple(problems + failures), len(wanted), skipped=len(expectations) - len(wanted))


def plan_with_tests(planned: Planned) -> tuple[Plan, Outcome | None]:
    """The plan with a ``T001`` error per failed expectation of ``.routes-tests.yaml``,
    checked against the routes as the plan leaves them (None: there is no such file)."""
    from dataclasses import replace

    from reconciler.traffic import applied

    path, shown = tests_file(planned.settings, None)
    if not path.exists():
        return planned.plan, None
    plan = planned.plan
    table = RoutingTable(applied(planned.source.load.routes, planned.live, plan.changes))
    # A plan that read only some routes (--target, --changed-since) judges only their hosts.
    partial = bool(plan.targets) or planned.source.targets is not None
    outcome = run_tests(path, shown, table, only_hosts=table.hosts if partial else None)
    if outcome.diagnostics:
        plan = replace(plan, diagnostics=(*plan.diagnostics, *outcome.diagnostics))
    return plan, outcome


def _check(expectation: Expectation, table: RoutingTable) -> Diagnostic | None:
    target = expectation.target
    match = table.match(target.host, target.path)
    got = match.rule.service if match else None
    if got == expectation.service:
        return None
    wanted = expectation.service or "404"
    if match is None:
        found = "404 (no route matches)"
    else:
        rule = match.rule
        found = f"{rule.service} (route {quote(match.route)}, prefix {quote(rule.prefix)})"
    return diagnostic(
        "T001",
        f"{quote(target.url)} should reach {wanted} but reaches {found}",
        file=expectation.file,
        line=expectation.line,
        column=expectation.column,
    )


def test(
    load_settings: Callable[[], Settings],
    file: str | None,
    *,
    paths: Sequence[str],
    live: bool,
    fmt: str,
    echo: Echo,
    environ: Mapping[str, str] | None = None,
) -> int:
    """``routes test [FILE]``: check the expectations; 1 when any fails (or the file is bad)."""
    from reconciler.commands.routing import read_table
    from reconciler.render import diagnostics as render

    settings = load_settings()
    path, shown = tests_file(settings, file)
    if not path.exists():
        raise UsageError(
            f"no traffic expectations at {shown}",
            hint=f"write `https://HOST/PATH: SERVICE` (or `: 404`) lines into {shown}, "
            "or pass the file to use",
        )
    table = read_table(settings, paths, live=live, echo=echo)
    outcome = run_tests(path, shown, table.routes)
    if fmt == "json":
        document = {
            "from": table.origin,
            "checked": outcome.checked,
            "failed": outcome.failed,
            "diagnostics": [d.to_dict() for d in outcome.diagnostics],
        }
        echo(json_text(document))
    elif fmt == "github":
        workspace = (os.environ if environ is None else environ).get("GITHUB_WORKSPACE")
        found = render.render_github(render.workspace_relative(outcome.diagnostics, workspace))
        echo(found + summary(outcome, table.origin))
    else:
        found = render.render_text(outcome.diagnostics) if outcome.diagnostics else ""
        echo(found + summary(outcome, table.origin))
    return EXIT_ERROR if outcome.diagnostics else EXIT_OK


def summary(outcome: Outcome, origin: str) -> str:
    """``Traffic tests: 3 checked against the descriptors, 1 failed.``"""
    skipped = ""
    if outcome.skipped:
        skipped = f", {outcome.skipped} skipped (hosts this plan did not read)"
    return (
        f"Traffic tests: {outcome.checked} checked against the {clean(origin)}, "
        f"{outcome.failed} failed{skipped}."
    )
