"""Reading the Akka / Kalix CLI's output: ``routes list``, ``routes get`` and ``routes export``.

JSON (``-o json``) is preferred; the text forms are the fallback for CLI versions whose
JSON output does not parse. The text forms are the documented ones (invoke-service.adoc);
no JSON shape is documented, so each shape read here is an assumption that the emulator
(tests/akka_emulator/emulator.py) lists and the tests exercise both ways. Anything
unreadable becomes a ``BackendError`` that says which command printed it, never a traceback.
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
_EMPTY_HOSTNAMES = re.compile(r"^\s*(no hostnames( found)?\.?)?\s*$", re.IGNORECASE)
_EMPTY_LIST = re.compile(r"^\s*(no routes( found)?\.?)?\s*$", re.IGNORECASE)
# What cobra prints when a command has no -o/--output, or does not know the format.
_NO_JSON = re.compile(
    r"unknown (shorthand )?flag: ('o'|-o\b|--output\b)"
    r"|invalid (output format|argument \S+ for \S*(-o|--output)\b)",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"^\t?\s*(?P<type>[A-Za-z]+):\s*(?P<status>True|False|Unknown)\s*$")
_FIELD = re.compile(r"^\s*(?P<key>Last Transition|Reason|Message):\s*(?P<value>.*)$")


def json_output_unsupported(message: str) -> bool:
    """Whether a failed ``-o json`` call means "this CLI has no JSON output here".

    Only cobra's own wording about the ``-o`` / ``--output`` flag counts: a route named
    ``feature-flags`` in an unrelated error must not switch the backend to text.
    """
    return bool(_NO_JSON.search(message))


def _item_name(item: object) -> str | None:
    if not isinstance(item, Mapping):
        return None
    name = item.get("name")
    if not name and isinstance(item.get("metadata"), Mapping):
        name = item["metadata"].get("name")
    return str(name) if name else None


def names_from_list(text: str, is_json: bool) -> list[str]:
    """Route names from ``routes list`` (JSON array / object, or the text table)."""
    if is_json:
        data = json.loads(text)
        items = data
        if isinstance(data, Mapping):
            items = data.get("routes", data.get("items", []))
        if not isinstance(items, list):
            raise _unreadable("routes list -o json", text)
        names = [_item_name(item) for item in items]
        if any(name is None for name in names):
            # Items but no readable name: never read that as "no routes exist".
            raise _unreadable("routes list -o json (an item without name / metadata.name)", text)
        return sorted(name for name in names if name)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or _EMPTY_LIST.match(text):
        return []
    if lines[0].split()[0].upper() != "NAME":
        raise _unreadable("routes list", text)
    return sorted(line.split()[0] for line in lines[1:])


def hostnames_from_list(text: str, is_json: bool) -> dict[str, str | None]:
    """The project's hostnames and each one's CNAME target, from ``projects hostnames list``.

    Text: the columns invoke-service.adoc shows for ``project hostname add`` (HOSTNAME
    GENERATED REGION CNAME), ASSUMED to be those of ``list``. JSON (ASSUMED shape): items
    with ``hostname`` (or ``name`` / ``metadata.name``) and ``cname``.
    """
    if is_json:
        data = json.loads(text)
        items = data
        if isinstance(data, Mapping):
            items = data.get("hostnames", data.get("items", []))
        if not isinstance(items, list):
            raise _unreadable("projects hostnames list -o json", text)
        found: dict[str, str | None] = {}
        for item in items:
            host = item.get("hostname") if isinstance(item, Mapping) else None
            host = host or _item_name(item)
            if not host:
                raise _unreadable("projects hostnames list -o json (an item without a name)", text)
            cname = item.get("cname") if isinstance(item, Mapping) else None
            found[str(host).lower()] = str(cname) if cname else None
        return found
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or _EMPTY_HOSTNAMES.match(text):
        return {}
    header = lines[0].split()
    if header[:1] != ["HOSTNAME"]:
        raise _unreadable("projects hostnames list", text)
    column = header.index("CNAME") if "CNAME" in header else None
    rows = [line.split() for line in lines[1:]]
    return {
        row[0].lower(): row[column] if column is not None and len(row) > column else None
        for row in rows
    }


def conditions_from_get(text: str, is_json: bool) -> tuple[Condition, ...]:
    """Status conditions (HostValidation, Ready, …) from ``routes get NAME``."""
    if is_json:
        data = json.loads(text)
        if not isinstance(data, Mapping):
            raise _unreadable("routes get -o json", text)
        status = data.get("status") or {}
        raw = status.get("conditions") if isinstance(status, Mapping) else None
        raw = raw if raw is not None else data.get("conditions") or []
        return tuple(_condition(c) for c in raw if isinstance(c, Mapping))
    if any(line.rstrip() == "Status:" for line in text.splitlines()):
        return _status_blocks(text)
    return ()  # no status reported yet (only the documented `Status:` blocks are read)


def region_from_get(text: str, is_json: bool, default: str | None = None) -> str | None:
    """The region of a regional route from ``routes get -o json`` (None: global).

    ASSUMED (undocumented): a regional route carries ``region`` (or ``metadata.region``);
    ``"regional": true`` without a name means ``default``. The text form shows no region.
    """
    if not is_json:
        return None
    data = json.loads(text)
    if not isinstance(data, Mapping):
        return None
    metadata = data.get("metadata")
    region = data.get("region") or (
        metadata.get("region") if isinstance(metadata, Mapping) else None
    )
    if region:
        return str(region)
    return default if data.get("regional") is True else None


def _condition(raw: Mapping[str, Any]) -> Condition:
    status = raw.get("status")
    if isinstance(status, bool):  # ASSUMED possible: a JSON bool instead of "True"/"False"
        raw = {**raw, "status": "True" if status else "False"}
    if "lastTransitionTime" not in raw and "lastTransition" in raw:
        raw = {**raw, "lastTransitionTime": raw["lastTransition"]}
    return Condition.from_dict(raw)


def _status_blocks(text: str) -> tuple[Condition, ...]:
    """The documented ``Status:`` section of ``routes get NAME``::

    Status:
    \tHostValidation: False
    \t\tLast Transition: \tTue Nov  9 16:45:53 2021
    \t\tReason: \tDnsNotVerified
    \t\tMessage: \tHost … must be configured to be a CNAME record to us-east1.akka.app
    """
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip() == "Status:")
    found: list[dict[str, str]] = []
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        if not line[:1].isspace():
            break  # the next top-level section
        head = _CONDITION.match(line)
        field = _FIELD.match(line)
        if head and not field:
            found.append({"type": head["type"], "status": head["status"]})
        elif field and found:
            key = {"Last Transition": "lastTransitionTime", "Reason": "reason"}.get(
                field["key"], "message"
            )
            found[-1][key] = field["value"].strip()
        else:
            raise _unreadable("routes get", text)
    return tuple(Condition.from_dict(c) for c in found)


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
