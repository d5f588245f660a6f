"""The ``traffic`` of a plan dict -> text lines, risk notes and Markdown lines. Pure.

A move reads "requests whose path starts with PREFIX (and none of the longer prefixes
listed) went to A and will go to B"; every value is quoted or escaped for where it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.quoting import clean, quote

__all__ = ["HEADLINE", "traffic_markdown_lines", "traffic_risk_notes", "traffic_text"]

_SIGNS = {"retargeted": "~", "removed": "-", "added": "+", "captured": "+"}
_WHY = {
    "retargeted": "prefix retargeted",
    "removed": "prefix removed",
    "added": "new prefix",
    "captured": "new prefix takes them from a shorter one",
}
HEADLINE = "Traffic (requests whose path starts with the prefix go elsewhere):"

Show = Callable[[str], str]


def traffic_text(plan: Mapping[str, Any]) -> str:
    """The plan's traffic moves as a text section, or "" when no request moves."""
    lines = []
    for host in plan.get("traffic") or ():
        if host["moves"]:
            lines.append(f"  host {quote(host['host'])}")
            lines += [f"    {_SIGNS[m['kind']]} {_move(m, quote, clean)}" for m in host["moves"]]
    return "\n".join([HEADLINE, *lines]) if lines else ""


def traffic_markdown_lines(plan: Mapping[str, Any], code: Show, text: Show) -> list[str]:
    """One Markdown list item per move; ``code`` and ``text`` escape for Markdown."""
    return [
        f"- {code(host['host'])}: {_move(move, code, text)}"
        for host in plan.get("traffic") or ()
        for move in host["moves"]
    ]


def traffic_risk_notes(plan: Mapping[str, Any]) -> list[str]:
    """A risk note per removed prefix whose requests now reach another service."""
    notes = []
    for host in plan.get("traffic") or ():
        for move in host["moves"]:
            if move["risk"]:
                before, after = move["before"] or {}, move["after"]
                notes.append(
                    f"requests under {quote(host['host'] + move['prefix'])} fall through to "
                    f"{quote(after['prefix'])} and reach {clean(after['service'])} instead of "
                    f"{clean(before.get('service', '404'))}"
                )
    return notes


def _move(move: Mapping[str, Any], show: Show, word: Show) -> str:
    where = show(move["prefix"])
    if move["except"]:
        where += " (not " + ", ".join(show(p) for p in move["except"]) + ")"
    before, after = move["before"], move["after"]
    routes_differ = bool(before and after and before["route"] != after["route"])
    shown = [_destination(d, move["prefix"], routes_differ, show, word) for d in (before, after)]
    why = _WHY[move["kind"]] + (", falls through" if move["risk"] else "")
    return f"{where}: {shown[0]} => {shown[1]} ({word(why)})"


def _destination(
    destination: Mapping[str, Any] | None, prefix: str, with_route: bool, show: Show, word: Show
) -> str:
    if destination is None:
        return "404"
    out = word(destination["service"])
    if destination["prefix"] != prefix:
        out += f" via {show(destination['prefix'])}"
    if with_route:
        out += f" (route {show(destination['route'])})"
    return out
