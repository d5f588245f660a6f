"""Drift report -> text or Markdown (for the drift issue and a step summary). Renders only:
every value from live state is escaped for where it goes."""

from __future__ import annotations

from reconciler.drift import DriftReport
from reconciler.quoting import clean
from reconciler.render.markdown import code, text

__all__ = ["render_drift_markdown", "render_drift_text"]


def render_drift_text(report: DriftReport) -> str:
    """One line per finding, then a summary line."""
    lines = [f"  {f.kind:<20} {clean(f.route)}: {clean(f.detail)}" for f in report.findings]
    counts = report.counts()
    if report.drifted:
        summary = (
            f"Drift: {counts['changed-out-of-band']} changed out of band, "
            f"{counts['deleted-out-of-band']} deleted out of band, "
            f"{counts['not-yet-applied']} not yet applied"
            f" ({counts['unmanaged']} unmanaged)."
        )
    else:
        summary = f"No drift. Live routes match the descriptors ({counts['unmanaged']} unmanaged)."
    return "\n".join([*lines, "", summary] if lines else [summary]) + "\n"


def render_drift_markdown(report: DriftReport) -> str:
    """A markdown report for a drift issue or a step summary."""
    counts = report.counts()
    head = "### Drift detected" if report.drifted else "### No drift"
    rows = [f"| {code(f.route)} | {f.kind} | {text(f.detail)} |" for f in report.findings]
    table = ["| route | finding | detail |", "|---|---|---|", *rows] if rows else []
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return "\n".join([head, "", f"**{summary}**", "", *table]) + "\n"
