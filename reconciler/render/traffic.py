"""The ``traffic`` of a plan dict -> text lines, risk notes and Markdown lines. Pure.

A move reads "requests whose path starts with PREFIX (and none of the longer prefixes
listed) went to A and will go to B"; every value is quoted or escaped for where it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.quoting import clean, quote

__all__ = ["HEADLINE", "traffic_markdown_lines", "traffic_risk_notes", "traffic_text_and_notes"]

_SIGNS = {"retargeted": "~", "removed": "-", "added": "+", "captured": "+"}
_WHY = {
    "retargeted": "prefix retargeted",
    "removed": "prefix removed",
    "added": "new prefix",
    "captured": "new prefix takes them from a shorter one",
}
HEADLINE = "Traffic (requests whose path starts with the prefix go elsewhere):"

Show = Callable[[str], str]


def traffic_text_and_notes(plan: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The plan's traffic moves as a text section ("" when no request moves), and its
    ``traffic_risk_notes``: both from one reading of each host's moves."""
    lines, notes = [], []
    for host in plan.get("traffic") or ():
        moves = host["moves"]
        if moves:
            name = host["host"]
            lines.append(f"  host {quote(name)}")
            for move in moves:
                lines.append(f"    {_SIGNS[move['kind']]} {_move(move, quote, clean)}")
                if move["risk"]:
                    notes.append(_risk_note(name, move))
    return ("\n".join([HEADLINE, *lines]) if lines else ""), notes


def traffic_markdown_lines(plan: Mapping[str, Any], code: Show, text: Show) -> list[str]:
    """One Markdown list item per move; ``code`` and ``text`` escape for Markdown."""
    return [
        f"- {code(host['host'])}: {_move(move, code, text)}"
        for host in plan.get("traffic") or ()
        for move in host["moves"]
    ]


def traffic_risk_notes(plan: Mapping[str, Any]) -> list[str]:
    """A risk note per removed prefix whose requests now reach another service."""
    return [
        _risk_note(host["host"], move)
        for host in plan.get("traffic") or ()
        for move in host["moves"]
        if move["risk"]
    ]


def _risk_note(host: str, move: Mapping[str, Any]) -> str:
    before, after = move["before"] or {}, move["after"]
    return (
        f"requests under {quote(host + move['prefix'])} fall through to "
        f"{quote(after['prefix'])} and reach {clean(after['service'])} instead of "
        f"{clean(before.get('service', '404'))}"
    )


def _move(move: Mapping[str, Any], show: Show, word: Show) -> str:
    prefix, excluding = move["prefix"], move["except"]
    where = show(prefix)
    if excluding:
        where += " (not " + ", ".join([show(p) for p in excluding]) + ")"
    before, after = move["before"], move["after"]
    routes_differ = bool(before and after and before["route"] != after["route"])
    was = _destination(before, prefix, routes_differ, show, word) if before is not None else "404"
    now = _destination(after, prefix, routes_differ, show, word) if after is not None else "404"
    why = _WHY[move["kind"]] + (", falls through" if move["risk"] else "")
    return f"{where}: {was} => {now} ({word(why)})"


def _destination(
    destination: Mapping[str, Any], prefix: str, with_route: bool, show: Show, word: Show
) -> str:
    out = word(destination["service"])
    if destination["prefix"] != prefix:
        out += f" via {show(destination['prefix'])}"
    if with_route:
        out += f" (route {show(destination['route'])})"
    return out
