"""``routes github comment|outputs PLAN_FILE``: a saved plan to the pull request and to the
Action's step outputs (what ``action.yml`` runs after ``routes plan --out``);
``routes github drift|drift-issue REPORT``: a saved drift report to the step summary and to
the drift issue. The Action runs what needs GITHUB_TOKEN in a step of its own."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from reconciler.apply.saved_plan import read_plan_file
from reconciler.commands.common import Echo
from reconciler.errors import EXIT_OK, PlanError
from reconciler.regular_files import read_regular

if TYPE_CHECKING:
    from reconciler.drift import DriftReport


def comment(
    plan_file: str, *, target: str | None, pr: int | None, outputs: bool, echo: Echo
) -> int:
    """Write the step outputs, create or update the plan comment on the pull request, and
    print the comment's URL (nothing, and a warning, when the token is read-only). The plan
    file is checked as ``routes apply`` checks it."""
    from reconciler.integrations.github.publish import READ_ONLY_NOTE, publish_plan

    plan_dict = read_plan_file(plan_file).to_dict()
    url = publish_plan(plan_dict, plan_file, target=target, pr=pr, outputs=outputs)
    if url is None:
        echo(READ_ONLY_NOTE, err=True)
    else:
        echo(url)
    return EXIT_OK


def outputs(plan_file: str) -> int:
    """Write the plan to the step summary and its counts to the step outputs."""
    from reconciler.integrations.github.publish import publish_outputs

    publish_outputs(read_plan_file(plan_file).to_dict(), plan_file)
    return EXIT_OK


def drift(report_file: str, *, echo: Echo) -> int:
    """Print a saved drift report (``routes drift --format json``) as markdown, append it to
    the step summary and write ``has-changes``: what the Action shows without a token."""
    from reconciler.integrations.github.publish import publish_drift_outputs
    from reconciler.render.drift import render_drift_markdown

    report = _read_drift_report(report_file)
    markdown = render_drift_markdown(report)
    echo(markdown)
    publish_drift_outputs(markdown, report.drifted)
    return EXIT_OK


def drift_issue(report_file: str, *, echo: Echo) -> int:
    """Open, update or close the drift issue from a saved drift report; print its URL."""
    from reconciler.integrations.github.publish import publish_drift
    from reconciler.render.drift import render_drift_markdown

    report = _read_drift_report(report_file)
    url = publish_drift(render_drift_markdown(report), report.drifted, target=report.plan.backend)
    if url:
        echo(url)
    return EXIT_OK


def _read_drift_report(path: str) -> DriftReport:
    """The report ``routes drift --format json`` wrote, checked as a saved plan is."""
    from reconciler.apply.saved_plan import plan_schema_errors
    from reconciler.drift import KINDS, DriftReport, Finding
    from reconciler.plan import Plan

    try:
        raw = json.loads(read_regular(path).decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(
            f"cannot read the drift report {path}: {exc}",
            hint="pass the file written by `routes drift --format json > FILE`",
        ) from exc
    findings = raw.get("findings") if isinstance(raw, dict) else None
    plan = raw.get("plan") if isinstance(raw, dict) else None
    if (
        not isinstance(findings, list)
        or not isinstance(plan, dict)
        or plan_schema_errors(plan)
        or not all(_finding(f, KINDS) for f in findings)
    ):
        raise PlanError(
            f"{path} is not a drift report of this version of routes",
            hint="pass the file written by `routes drift --format json > FILE`",
        )
    return DriftReport(
        findings=tuple(Finding(f["route"], f["kind"], f["detail"]) for f in findings),
        plan=Plan.from_dict(plan),
    )


def _finding(value: Any, kinds: tuple[str, ...]) -> bool:
    return (
        isinstance(value, dict)
        and value.get("kind") in kinds
        and all(isinstance(value.get(key), str) for key in ("route", "detail"))
    )
