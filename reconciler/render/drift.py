"""Drift report -> text or Markdown (for the drift issue and a step summary). Renders only:
every value from live state is escaped for where it goes.

Each finding's differences are shown in the plan's notation (``path "/x" -> service``,
``field = value``) but said live against described: ``+`` a field or element only the live
route has, ``-`` one only the descriptor has, ``~`` a field both have with other values.
"""

from __future__ import annotations

import json
import re
from typing import Any

from reconciler.drift import DriftReport, Finding
from reconciler.model import SENSITIVE
from reconciler.quoting import clean, quote
from reconciler.render.markdown import COMMENT_LIMIT, code, text
from reconciler.spec_diff import FieldDifference

__all__ = ["difference_line", "render_drift_markdown", "render_drift_text"]

# Set-valued fields: each element is a difference of its own.
_ELEMENT_FIELDS = frozenset(
    {
        "corsPolicy.allowOrigins",
        "corsPolicy.allowMethods",
        "validation.clientCertificate.subjectMatches",
    }
)
_LIVE_ONLY = "(live only, not described)"
_DESCRIBED_ONLY = "(described, missing live)"
_MARKDOWN_ROOM = 2000  # the summary, the table's tail and the "… not shown" line


def render_drift_text(report: DriftReport) -> str:
    """One line per finding, its differences indented under it, then a summary line."""
    lines: list[str] = []
    for f in report.findings:
        lines.append(f"  {f.kind:<20} {clean(f.route)}: {clean(f.detail)}")
        lines += [f"      {difference_line(d)}" for d in f.differences]
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


def render_drift_markdown(report: DriftReport, *, limit: int = COMMENT_LIMIT) -> str:
    """A markdown report for a drift issue or a step summary: the findings as a table, then
    each finding's differences as a diff, as many as fit in a GitHub issue body."""
    counts = report.counts()
    head = "### Drift detected" if report.drifted else "### No drift"
    rows = [f"| {code(f.route)} | {f.kind} | {text(f.detail)} |" for f in report.findings]
    table = ["| route | finding | detail |", "|---|---|---|", *rows] if rows else []
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    parts = ["\n".join([head, "", f"**{summary}**", "", *table])]
    budget = limit - len(parts[0]) - _MARKDOWN_ROOM
    with_differences = [f for f in report.findings if f.differences]
    if with_differences:
        parts.append("#### Differences, live against described")
    for shown, finding in enumerate(with_differences):
        section = _markdown_section(finding)
        if len(section) + 2 > budget:
            left = len(with_differences) - shown
            parts.append(
                f"… the differences of {left} more routes are not shown; run `routes drift`."
            )
            break
        parts.append(section)
        budget -= len(section) + 2
    return "\n\n".join(parts) + "\n"


def difference_line(d: FieldDifference) -> str:
    """One difference as a line: ``~ path "/carts" -> live evil-cart, described carts``."""
    if d.field == "path":
        where = f"path {quote(d.key)} ->"
        if d.live is not None and d.described is not None:
            return f"~ {where} live {clean(d.live)}, described {clean(d.described)}"
        if d.live is not None:
            return f"+ {where} {clean(d.live)} {_LIVE_ONLY}"
        return f"- {where} {clean(d.described)} {_DESCRIBED_ONLY}"
    name = clean(d.field) if d.key is None else f"path {quote(d.key)} {clean(d.field)}"
    joiner = " " if d.field in _ELEMENT_FIELDS else " = "
    if d.live is not None and d.described is not None:
        values = f"live {_value(d.live)}, described {_value(d.described)}"
        if d.live == d.described:  # a secret that differs but redacts the same
            values = f"{SENSITIVE} differs"
        return f"~ {name} = {values}"
    if d.live is not None:
        return f"+ {name}{joiner}{_value(d.live)} {_LIVE_ONLY}"
    return f"- {name}{joiner}{_value(d.described)} {_DESCRIBED_ONLY}"


def _value(value: Any) -> str:
    if value == SENSITIVE:
        return SENSITIVE
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{clean(k)}: {_value(v)}" for k, v in value.items()) + "}"
    return clean(json.dumps(value, ensure_ascii=False))


def _markdown_section(finding: Finding) -> str:
    # GitHub colours a diff block by the first character: "!" stands for "~".
    body = "\n".join(
        ("!" + line[1:]) if line.startswith("~") else line
        for line in (difference_line(d) for d in finding.differences)
    )
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    title = f"{code(finding.route)}: {finding.kind}"
    return "\n".join([title, "", f"{fence}diff", body, fence])
