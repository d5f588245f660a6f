"""Route rows of the local store: read back as ``StoredRoute`` values, and write preconditions.

A stored spec passes the one spec validation as it is stored, before it is canonicalised:
an error the canonical form would hide (an unknown field, a wrong type, one of two rules for
a prefix: a row edited by hand) makes the row unreadable, never quietly read as something
else; the others stay in sight for whoever reads the route. Checked and parsed specs are
cached by their JSON text, so a long-running server checks and parses each spec once.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.descriptors.schema import conforms
from reconciler.descriptors.spec_check import hidden_errors, known_spec, problem_summary
from reconciler.errors import BackendError, ConflictError, NotFoundError
from reconciler.model import RouteSpec
from reconciler.store.records import StatusContext, StoredRoute
from reconciler.store.sql import read_meta

SPEC_CACHE_SIZE = 50_000
LABEL_CACHE_SIZE = 1_000
COLUMNS = "name, spec, labels, annotations, version, created_at, updated_at"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class RouteRows:
    """Turns the route rows of one store (a file, or a database) into ``StoredRoute`` values.

    ``location`` names the store in messages: a file path, or a database URL without its
    password.
    """

    def __init__(self, location: str | Path) -> None:
        self.path = location
        self._specs: dict[bytes, RouteSpec] = {}
        self._label_maps: dict[str, dict[str, str]] = {}

    def select(
        self, conn: sqlite3.Connection, where: str, params: tuple[Any, ...]
    ) -> list[StoredRoute]:
        """The routes ``where`` selects, with conditions from the store's hostname mode."""
        rows = conn.execute(f"SELECT {COLUMNS} FROM routes {where}", params).fetchall()
        status = status_of(conn) if rows else StatusContext()
        return [self.stored(row, status) for row in rows]

    def stored(self, row: Sequence[Any], status: StatusContext) -> StoredRoute:
        """One row of ``COLUMNS`` as a route; ``BackendError`` naming it when unreadable."""
        name, spec_json, labels_json, annotations_json, version, created_at, updated_at = row
        try:
            texts = (("name", name), ("created_at", created_at), ("updated_at", updated_at))
            for column, value in texts:
                if not isinstance(value, str):
                    raise ValueError(f"{column} is not text")
            spec = self._spec(spec_json)
            labels = self._labels(labels_json)
            annotations = _string_map("annotations", annotations_json)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise BackendError(
                f"route {name!r} in {self.path} is unreadable ({exc})",
                hint=f"delete the route's row or restore {self.path} from a backup",
            ) from exc
        return StoredRoute(
            name=name,
            spec=spec,
            version=str(version),
            labels=labels,
            annotations=annotations,
            created_at=created_at,
            updated_at=updated_at,
            conditions=status.conditions(spec.host, updated_at),
        )

    def _labels(self, labels_json: Any) -> dict[str, str]:
        # The routes of one owner share one labels text: decoded once, copied per route.
        labels = self._label_maps.get(labels_json) if isinstance(labels_json, str) else None
        if labels is None:
            labels = _string_map("labels", labels_json)
            if len(self._label_maps) < LABEL_CACHE_SIZE:
                self._label_maps[labels_json] = labels
        return dict(labels)

    def _spec(self, spec_json: str) -> RouteSpec:
        # Specs are immutable and canonical, so one parse serves every later read of the
        # same text; bounded so a long-running server does not grow without end. Keyed by
        # a digest of the text, not the text: 50,000 cached rows would otherwise keep a
        # copy of every spec's JSON alive.
        if not isinstance(spec_json, str):
            return _checked_spec(_loads("spec", spec_json))  # refused there, saying why
        known = known_spec(spec_json)
        if known is not None:  # the canonical text of a spec just loaded: that very spec
            return known
        key = hashlib.blake2b(spec_json.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        spec = self._specs.get(key)
        if spec is None:
            if len(self._specs) >= SPEC_CACHE_SIZE:
                self._specs.clear()
            descriptor = _loads("spec", spec_json)
            spec = self._specs[key] = _checked_spec(descriptor)
        return spec


def _checked_spec(descriptor: Any) -> RouteSpec:
    """The canonical spec of a stored descriptor; ValueError when the canonical form would
    hide one of its errors. A row routes wrote is already canonical and schema-valid: then
    nothing can be hidden, and the full check is left to the one check of every answer."""
    try:
        spec = RouteSpec.from_dict(descriptor)
        if conforms(descriptor) and spec.to_dict() == descriptor:
            return spec
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    problems = hidden_errors(descriptor)
    if problems:
        raise ValueError(f"spec refused: {problem_summary(problems)}")
    return RouteSpec.from_dict(descriptor)


def check_precondition(
    path: str | Path,
    name: str,
    row: Any,
    expected_version: str | None,
    must_exist: bool,
    must_not_exist: bool,
) -> None:
    """Raise unless the row (None: no route) meets If-Match / If-None-Match / must-exist."""
    if must_exist and row is None:
        raise NotFoundError(
            f"route {name!r} does not exist in {path}",
            hint="plan again to see the live routes",
        )
    if must_not_exist and row is not None:
        raise ConflictError(
            f"route {name!r} already exists in {path}",
            hint="plan again to see the live route",
        )
    if expected_version is None:
        return
    if row is None:
        raise ConflictError(f"route {name!r} no longer exists in {path}")
    if expected_version != "*" and str(row[0]) != expected_version:
        raise ConflictError(
            f"route {name!r} in {path} is at version {row[0]}, not {expected_version}",
            hint="someone else changed it: plan again",
        )


def _string_map(column: str, stored: Any) -> dict[str, str]:
    """The labels or annotations of a row; ValueError, saying what is wrong, for anything else.

    A row edited by hand can hold any JSON, and a list or a number here would only fail
    later, far from the row, when a label is looked up.
    """
    if stored == "{}":
        return {}
    value = _loads(column, stored)
    if not isinstance(value, dict):
        raise ValueError(f"{column} must be a JSON object of strings, not {_json_kind(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise ValueError(
                f"{column} must be a JSON object of strings, not {_json_kind(item)} at {key!r}"
            )
    return value


def _loads(column: str, stored: Any) -> Any:
    """The JSON text of one column; ValueError, naming the column, when it is not JSON text."""
    if not isinstance(stored, str):
        raise ValueError(f"{column} is not JSON text")
    try:
        value = json.loads(stored)
        if _SURROGATE_ESCAPE.search(stored):  # a lone one would break every answer later
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{column} holds a lone surrogate, which is not Unicode text") from exc
    except ValueError as exc:
        raise ValueError(f"{column} is not JSON: {exc}") from exc
    return value


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return kinds.get(type(value), "a number")


def status_of(conn: sqlite3.Connection) -> StatusContext:
    """What the conditions of the store's routes depend on, read in the caller's snapshot."""
    mode = read_meta(conn, "hostname_mode") or "any"
    hostnames: dict[str, str] = {}
    if mode == "registered":
        hostnames = dict(conn.execute("SELECT hostname, created_at FROM hostnames"))
    return StatusContext(mode, read_meta(conn, "hostname_mode_changed_at") or "", hostnames)
