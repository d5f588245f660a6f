"""Plan -> JSON: the plan file form and ``--format json``. Renders only; reading and checking
a plan file is ``reconciler.apply.saved_plan``.

A plan of 50,000 changes is hundreds of megabytes of JSON: it is rendered as chunks, one
change (and one host of its traffic) at a time, so neither the whole text nor every
change's dict is held at once. The chunks joined are exactly
``json_text(plan.to_dict()) + "\\n"``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconciler.drift import DriftReport
from reconciler.plan import Change, Plan
from reconciler.quoting import json_text

__all__ = [
    "drift_json_chunks",
    "plan_json_chunks",
    "render_plan_json",
]


def render_plan_json(plan: Plan) -> str:
    """The plan file form: ``Plan.to_dict()`` as indented JSON with a trailing newline."""
    return "".join(plan_json_chunks(plan))


def plan_json_chunks(plan: Plan) -> Iterator[str]:
    """``render_plan_json(plan)`` in pieces, the changes and traffic item by item."""
    changes, traffic = _Later(_changes(plan.changes)), _Later(_hosts(plan.traffic))
    return _streamed(plan.to_dict_with(changes, traffic), (changes, traffic))


def drift_json_chunks(report: DriftReport) -> Iterator[str]:
    """``routes drift --format json``: ``report.to_dict()`` as indented JSON with a trailing
    newline, in pieces, the plan's changes and traffic item by item."""
    changes, traffic = _Later(_changes(report.plan.changes)), _Later(_hosts(report.plan.traffic))
    return _streamed(report.to_dict_with(changes, traffic), (changes, traffic))


def _changes(changes: Iterable[Change]) -> Iterator[dict[str, Any]]:
    return (change.to_dict() for change in changes)


def _hosts(traffic: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    return (dict(host) for host in traffic)


class _Later:
    """A list in the document, written item by item after the text around it is made.

    The document is encoded with a one-off token in its place, then cut there: a token made
    here cannot come from a route, a path or any other text of the plan.
    """

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items
        self.text = f"\x00later-{secrets.token_hex(16)}\x00"
        self.token = json_text(self.text)  # as it reads in the document's JSON


def _streamed(document: dict[str, Any], lists: tuple[_Later, ...]) -> Iterator[str]:
    """``lists`` in the order they appear in ``document``."""
    rest = json_text(document, default=_token)
    for later in lists:
        head, found, rest = rest.partition(later.token)
        if not found:  # pragma: no cover - each stand-in is in the document once
            raise AssertionError("a list's place was not found in the JSON")
        yield head
        yield from _list_chunks(later.items, _indent_of(head))
    yield rest + "\n"


def _token(value: object) -> str:
    if not isinstance(value, _Later):
        raise TypeError(f"{type(value).__name__} is not JSON")
    return value.text


def _indent_of(head: str) -> int:
    """The indent of the line the list starts on (``  "changes": ``)."""
    line = head.rpartition("\n")[2]
    return len(line) - len(line.lstrip(" "))


def _list_chunks(items: Iterator[Any], indent: int) -> Iterator[str]:
    # As json.dumps(indent=2) lays out a list of objects at this depth.
    inner = "\n" + " " * (indent + 2)
    separator = "["
    for item in items:
        yield separator + inner + json_text(item).replace("\n", inner)
        separator = ","
    yield "[]" if separator == "[" else "\n" + " " * indent + "]"
