"""Plan -> JSON: the plan file form and ``--format json``. Renders only; reading and checking
a plan file is ``reconciler.apply.saved_plan``.

A plan of 50,000 changes is tens of megabytes of JSON: it is rendered as chunks, one change
at a time, so neither the whole text nor every change's dict is held at once. The chunks
joined are exactly ``json_text(plan.to_dict()) + "\\n"``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
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
    """``render_plan_json(plan)`` in pieces, the changes one by one."""
    return _streamed(plan.to_dict_with, plan.changes)


def drift_json_chunks(report: DriftReport) -> Iterator[str]:
    """``routes drift --format json``: ``report.to_dict()`` as indented JSON with a trailing
    newline, in pieces, the plan's changes one by one."""
    return _streamed(report.to_dict_with, report.plan.changes)


class _Later:
    """Where the changes go in the document: written after the text around them is made."""


def _streamed(
    document_with: Callable[[object], dict[str, Any]], changes: Iterable[Change]
) -> Iterator[str]:
    # The document is encoded with a one-off token where the list goes, then cut there: a
    # token made here cannot come from a route, a path or any other text in the plan.
    token = f"\x00changes-{secrets.token_hex(16)}\x00"
    text = json_text(document_with(_Later()), default=lambda _: token)
    head, found, tail = text.partition(json_text(token))
    if not found:  # pragma: no cover - the stand-in is always encoded once
        raise AssertionError("the changes' place was not found in the plan JSON")
    yield head
    yield from _list_chunks(changes, _indent_of(head))
    yield tail + "\n"


def _indent_of(head: str) -> int:
    """The indent of the line the list starts on (``    "changes": ``)."""
    line = head.rpartition("\n")[2]
    return len(line) - len(line.lstrip(" "))


def _list_chunks(changes: Iterable[Change], indent: int) -> Iterator[str]:
    # As json.dumps(indent=2) lays out a list of objects at this depth.
    inner = "\n" + " " * (indent + 2)
    separator = "["
    for change in changes:
        yield separator + inner + json_text(change.to_dict()).replace("\n", inner)
        separator = ","
    yield "[]" if separator == "[" else "\n" + " " * indent + "]"
