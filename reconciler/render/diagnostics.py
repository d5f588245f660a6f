"""Diagnostics -> text, JSON or GitHub workflow commands. Pure: returns values, never prints."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from reconciler.diagnostics import Diagnostic, sort_key
from reconciler.quoting import clean, json_text

SEVERITIES = ("error", "warning", "info")
_GITHUB_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def render_text(diagnostics: Iterable[Diagnostic], files_checked: int | None = None) -> str:
    """One ``file:line:col: severity CODE: message`` line each, then a summary line."""
    ordered = sorted(diagnostics, key=sort_key)
    lines = [f"{clean(_where(d))}: {d.severity} {d.code}: {clean(d.message)}" for d in ordered]
    lines.append(_summary_line(ordered, files_checked))
    return "\n".join(lines) + "\n"


def render_json(diagnostics: Iterable[Diagnostic], files_checked: int) -> str:
    """``{"diagnostics": [...], "summary": {errors, warnings, infos, files}}``."""
    ordered = sorted(diagnostics, key=sort_key)
    counts = _counts(ordered)
    document = {
        "diagnostics": [d.to_dict() for d in ordered],
        "summary": {
            "errors": counts["error"],
            "warnings": counts["warning"],
            "infos": counts["info"],
            "files": files_checked,
        },
    }
    return json_text(document) + "\n"


def render_github(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands (``::error file=…,line=…,col=…,title=CODE::msg``)."""
    lines = []
    for d in sorted(diagnostics, key=sort_key):
        props = [("file", d.file), ("line", d.line), ("col", d.column), ("title", d.code)]
        rendered = ",".join(f"{k}={_escape_property(str(v))}" for k, v in props if v is not None)
        command = _GITHUB_COMMAND.get(d.severity, "notice")
        lines.append(f"::{command} {rendered}::{_escape_data(d.message)}")
    return "".join(line + "\n" for line in lines)


def _where(d: Diagnostic) -> str:
    if d.file is None:
        return "<input>"
    if d.line is None:
        return d.file
    return f"{d.file}:{d.line}:{d.column or 1}"


def _counts(diagnostics: Sequence[Diagnostic]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for d in diagnostics:
        counts[d.severity] = counts.get(d.severity, 0) + 1
    return counts


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _summary_line(diagnostics: Sequence[Diagnostic], files_checked: int | None) -> str:
    counts = _counts(diagnostics)
    parts = [_plural(counts["error"], "error"), _plural(counts["warning"], "warning")]
    if counts["info"]:
        parts.append(_plural(counts["info"], "note"))
    if files_checked is None:
        files_checked = len({d.file for d in diagnostics if d.file is not None})
    return f"{', '.join(parts)} in {_plural(files_checked, 'file')}"


def _escape_data(value: str) -> str:
    # The runner's own escapes first, then anything else a log viewer would act on (ESC, C1).
    escaped = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return clean(escaped)


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def workspace_relative(
    diagnostics: Sequence[Diagnostic], workspace: str | None
) -> list[Diagnostic]:
    """GitHub attaches annotations by repository path: rebase files on ``workspace``."""
    if not workspace:
        return list(diagnostics)
    base = Path(workspace).resolve()
    rebased = []
    for diag in diagnostics:
        if diag.file:
            with contextlib.suppress(ValueError):
                diag = replace(diag, file=str(Path(diag.file).resolve().relative_to(base)))
        rebased.append(diag)
    return rebased
