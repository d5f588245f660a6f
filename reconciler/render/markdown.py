"""Plan dict -> Markdown for pull-request comments. Pure and deterministic.

The comment must stay under GitHub's size limit, so sections are filled greedily in a fixed
order; the summary and every delete are reserved first because they are what a reviewer
must never miss.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.quoting import clean
from reconciler.render.mermaid import plan_flowchart
from reconciler.render.text import (
    NO_CHANGES,
    diagnostic_line,
    kept_note,
    render_change_text,
    risk_notes,
)
from reconciler.render.traffic import traffic_markdown_lines, traffic_risk_notes

__all__ = [
    "COMMENT_LIMIT",
    "code",
    "render_plan_markdown",
    "text",
]

COMMENT_LIMIT = 65536
_TRAILER_ROOM = 400  # the "… N more … not shown" lines, with room to spare
_DIFF_SIGNS = {"+": "+", "-": "-", "~": "!"}
_SIGNS = {"create": "+", "update": "~", "delete": "-", "adopt": "~"}
_VERBS = {
    "create": "will be created",
    "update": "will be updated in-place",
    "delete": "will be destroyed",
    "adopt": "will be adopted (this owner's labels added)",
}


def render_plan_markdown(plan: Mapping[str, Any], *, limit: int = COMMENT_LIMIT) -> str:
    """The plan as a PR comment: summary, risk notes, then one collapsible block per route."""
    changes = plan["changes"]
    deletes = [c for c in changes if c["action"] == "delete"]
    others = [c for c in changes if c["action"] != "delete"]
    summary = _summary(plan)
    delete_notes = [f"- {text(note)}" for note in risk_notes({"changes": deletes})]
    delete_parts = [_details(c) for c in deletes]
    reserved = _size([summary, "### Risks", *delete_notes]) + _TRAILER_ROOM
    if reserved + _size(delete_parts) > limit:
        # Every delete must stay visible: fall back to one line each.
        delete_parts = ["\n".join(_delete_line(c) for c in deletes)]
    if reserved + _size(delete_parts) > limit:
        # Still too long: one risk note for them all, and their names as one list.
        delete_notes = [f"- {len(deletes)} routes will be deleted (listed below)"]
        reserved = _size([summary, "### Risks", *delete_notes]) + _TRAILER_ROOM
        delete_parts = [_delete_list(deletes, limit - reserved)]
    budget = limit - reserved - _size(delete_parts)

    other_notes, notes_left = _take(
        [f"- {text(note)}" for note in risk_notes({"changes": others}) + traffic_risk_notes(plan)],
        min(budget, limit // 4),
    )
    budget -= _size(other_notes)
    traffic, traffic_left = _take(traffic_markdown_lines(plan, code, text), min(budget, limit // 8))
    budget -= _size(traffic)
    picture = _mermaid(plan, min(budget, limit // 8))
    budget -= _size([picture])
    diagnostics, diagnostics_left = _take(
        [f"- {text(diagnostic_line(d))}" for d in plan["diagnostics"]], min(budget, limit // 8)
    )
    budget -= _size(diagnostics)
    unmanaged, unmanaged_left = _take(
        [_unmanaged_line(u) for u in plan["unmanaged"]], min(budget, limit // 16)
    )
    budget -= _size(unmanaged)
    # Each block is made only while they fit: 10,000 creates' blocks are not all shown.
    shown, changes_left = _take_first((_details(c) for c in others), len(others), budget)

    parts = [summary]
    notes = delete_notes + other_notes
    if notes or notes_left:
        parts.append("\n".join(["### Risks", *notes, *_more(notes_left, "risk notes")]))
    if traffic or traffic_left or picture:
        body = [*traffic, *_more(traffic_left, "traffic moves"), picture]
        parts.append("\n".join(["### Traffic", *body]).strip())
    if diagnostics or diagnostics_left:
        body = [*diagnostics, *_more(diagnostics_left, "diagnostics")]
        parts.append("\n".join(["### Diagnostics", *body]))
    if unmanaged or unmanaged_left:
        body = [*unmanaged, *_more(unmanaged_left, "unmanaged routes")]
        parts.append("\n".join(["### Unmanaged routes (not touched)", *body]))
    parts += shown
    if changes_left:
        parts.append(
            f"… {changes_left} more changed routes not shown; "
            "run `routes show plan.json` to see the whole plan."
        )
    parts += [part for part in delete_parts if part]
    return "\n\n".join(parts)


def _summary(plan: Mapping[str, Any]) -> str:
    where = f"backend {code(plan['backend'])}, owner {code(plan['owner'])}"
    kept = kept_note(plan)
    if not plan["changes"]:
        line = (
            f"**No changes to apply**; {kept} ({where})" if kept else f"**{NO_CHANGES}** ({where})"
        )
    else:
        s = plan["summary"]
        counts = f"{s['add']} to add, {s['change']} to change, {s['destroy']} to destroy"
        if s.get("adopt"):
            counts = f"{s['adopt']} to adopt, {counts}"
        counts += f", {s['unchanged']} unchanged" + (f"; {kept}" if kept else "")
        line = f"**Plan:** {counts} ({where})"
    return "\n\n".join([line, *_refusals(plan)])


def _refusals(plan: Mapping[str, Any]) -> list[str]:
    # Right under the summary, so a green PR plan cannot hide an apply that will fail.
    refusals = plan.get("refusals") or ()
    if not refusals:
        return []
    lines = ["> [!CAUTION]", "> **`routes apply` will refuse this plan:**"]
    lines += [f"> - {text(r['message'])}" for r in refusals]
    return ["\n".join(lines)]


def _mermaid(plan: Mapping[str, Any], budget: int) -> str:
    """The changed hosts as a Mermaid block (GitHub draws it), or "" when it does not fit."""
    chart = plan_flowchart(plan)
    block = f"\n```mermaid\n{chart}\n```" if chart else ""
    return block if len(block) + 2 <= budget else ""


def _details(change: Mapping[str, Any]) -> str:
    body = _as_diff(render_change_text(change))
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    risks = text(", ".join(change["risks"]))
    risks = f" — risks: {risks}" if risks else ""
    # Markdown is not read inside <summary>: the title is HTML.
    title = f"{_html_code(_SIGNS[change['action']] + ' ' + change['route'])} "
    title += f"{_VERBS[change['action']]}{risks}"
    return "\n".join(
        [f"<details><summary>{title}</summary>", "", f"{fence}diff", body, fence, "", "</details>"]
    )


def _as_diff(text: str) -> str:
    # GitHub colours diff lines by their first character: move each sign to column 0.
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        sign, at = stripped[:1], len(line) - len(stripped)
        if sign in _DIFF_SIGNS and stripped[1:2] == " ":
            lines.append(_DIFF_SIGNS[sign] + line[:at] + " " + line[at + 1 :])
        else:
            lines.append(" " + line)
    return "\n".join(lines)


def _unmanaged_line(entry: Mapping[str, Any]) -> str:
    owner = f", owner {code(entry['owner'])}" if entry.get("owner") else ""
    return f"- {code(entry['route'])} (host {code(entry['host'])}{owner})"


def _delete_line(change: Mapping[str, Any]) -> str:
    reason = text(str(change.get("reason")))
    return f"- {code('- ' + change['route'])} will be destroyed (because {reason})"


def _delete_list(deletes: Sequence[Mapping[str, Any]], budget: int) -> str:
    """The deleted routes' names on as few lines as fit; only past ``budget`` are any cut."""
    head = f"**{len(deletes)} routes will be destroyed:**"
    names, left = _take([code(c["route"]) for c in deletes], budget - len(head) - 200)
    tail = [f"… and {left} more not shown; run `routes show plan.json`."] if left else []
    return "\n".join([head, ", ".join(names), *tail])


# What Markdown or HTML would act on inside a line we start: tags and comments, entities,
# emphasis, links and images, strikethrough, tables. Each becomes an entity or a backslash
# escape; control characters are escaped before (reconciler.quoting). GitHub links what
# the renderer leaves as text: URLs and `www.` (cmark-gfm's autolinks, broken by an entity
# for the `:` of `://` and the `.` of `www.`), `@user` and `#123` (GitHub's own filters,
# which read the text of each HTML node: an entity is decoded before they look, a `<span>`
# of its own is not).
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]~|]")
_HTML = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "@": "<span>@</span>",
    "#": "<span>#</span>",
}
_AUTOLINK = re.compile(r"(?<=www)\.|:(?=//)", re.IGNORECASE)
_ENTITY = {".": "&#46;", ":": "&#58;"}


def text(value: str) -> str:
    """``value`` as inert Markdown text: shown as written, interpreted as nothing."""
    escaped = _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), clean(value))
    inert = "".join(_HTML.get(char, char) for char in escaped)
    return _AUTOLINK.sub(lambda m: _ENTITY[m.group(0)], inert)


def code(value: object) -> str:
    """``value`` as inline code: a backtick span (inert inside), or HTML when it holds one."""
    shown = clean(str(value))
    return f"`{shown}`" if "`" not in shown else _html_code(shown)


def _html_code(value: str) -> str:
    # Markdown is still read between inline HTML tags: escape as for text.
    return f"<code>{text(value)}</code>"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _size(parts: Sequence[str]) -> int:
    return sum(len(part) + 2 for part in parts)


def _take(items: Sequence[str], budget: int) -> tuple[list[str], int]:
    return _take_first(items, len(items), budget)


def _take_first(items: Iterable[str], total: int, budget: int) -> tuple[list[str], int]:
    """The first of ``total`` ``items`` that fit in ``budget``, and how many are left out;
    none is made after the first that does not fit."""
    taken: list[str] = []
    used = 0
    for item in items:
        if used + len(item) + 2 > budget:
            break
        taken.append(item)
        used += len(item) + 2
    return taken, total - len(taken)


def _more(count: int, what: str) -> list[str]:
    return [f"- … {count} more {what} not shown"] if count else []
