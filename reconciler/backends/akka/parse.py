"""Reading the Akka / Kalix CLI's output: ``routes list``, ``routes get`` and ``routes export``.

JSON (``-o json``) is preferred; the text forms are the fallback for CLI versions whose
JSON output does not parse. Anything unreadable becomes a ``BackendError`` that says which
command printed it, never a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from reconciler.errors import BackendError
from reconciler.model import Condition, RouteSpec

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_EMPTY_LIST = re.compile(r"^\s*(no routes( found)?\.?)?\s*$", re.IGNORECASE)


def names_from_list(text: str, is_json: bool) -> list[str]:
    """Route names from ``routes list`` (JSON array / object, or the text table)."""
    if is_json:
        data = json.loads(text)
        items = data
        if isinstance(data, Mapping):
            items = data.get("routes", data.get("items", []))
        if not isinstance(items, list):
            raise _unreadable("routes list -o json", text)
        names = [
            str(item["name"]) for item in items if isinstance(item, Mapping) and "name" in item
        ]
        return sorted(names)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or _EMPTY_LIST.match(text):
        return []
    if lines[0].split()[0].upper() != "NAME":
        raise _unreadable("routes list", text)
    return sorted(line.split()[0] for line in lines[1:])


def conditions_from_get(text: str, is_json: bool) -> tuple[Condition, ...]:
    """Status conditions (HostValidation, Ready, …) from ``routes get NAME``."""
    if is_json:
        data = json.loads(text)
        if not isinstance(data, Mapping):
            raise _unreadable("routes get -o json", text)
        status = data.get("status") or {}
        raw = status.get("conditions") if isinstance(status, Mapping) else None
        raw = raw if raw is not None else data.get("conditions") or []
        return tuple(Condition.from_dict(c) for c in raw if isinstance(c, Mapping))
    return _conditions_table(text)


def _conditions_table(text: str) -> tuple[Condition, ...]:
    """The fixed-width ``Conditions:`` table of the text form, sliced at the header columns."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Conditions:")
    except StopIteration:
        return ()
    if start + 1 >= len(lines):
        return ()
    header = lines[start + 1]
    columns = ("TYPE", "STATUS", "REASON", "MESSAGE")
    offsets = [header.find(column) for column in columns]
    if any(offset < 0 for offset in offsets):
        raise _unreadable("routes get", text)
    found: list[Condition] = []
    for line in lines[start + 2 :]:
        if not line.strip() or not line.startswith(" "):
            break
        cells = [
            line[begin:end].strip()
            for begin, end in zip(offsets, [*offsets[1:], len(line) + 1], strict=True)
        ]
        found.append(Condition(type=cells[0], status=cells[1], reason=cells[2], message=cells[3]))
    return tuple(found)


def spec_from_export(text: str, *, where: str) -> RouteSpec:
    """The canonical spec from ``routes export NAME`` (bare descriptor or ``resource: Route``)."""
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise BackendError(
            f"{where} printed YAML that does not parse: {exc}",
            hint="check the CLI version (see docs/akka.md)",
        ) from exc
    if isinstance(data, Mapping) and "resource" in data and isinstance(data.get("spec"), Mapping):
        data = data["spec"]
    if not isinstance(data, Mapping) or "host" not in data or not data.get("routes"):
        raise _unreadable(where, text)
    try:
        return RouteSpec.from_dict(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise _unreadable(where, text) from exc


def _unreadable(command: str, text: str) -> BackendError:
    first = text.strip().splitlines()[0][:200] if text.strip() else "(empty)"
    return BackendError(
        f"cannot read the output of {command}: {first}",
        hint="this CLI version prints something unexpected; report it with `--verbose` output",
    )
