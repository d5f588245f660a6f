"""The local route store: routes and hostnames in one SQLite file (WAL mode).

Shared by the ``local`` backend and ``routes serve``. The file and its folder appear on the
first write only, so a plan against a fresh checkout creates nothing. Versions come from one
counter in the ``meta`` table that only grows, so a deleted and re-created route never gets
an old version back (a stale If-Match can never match it).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from reconciler.canonical import canonical_host
from reconciler.errors import ConflictError, NotFoundError, RoutesError, UsageError
from reconciler.gcpause import gc_paused
from reconciler.model import RouteSpec
from reconciler.store.base import RouteWrites
from reconciler.store.records import HOSTNAME_MODES, Hostname, RouteWrite, StoredRoute, utc_now
from reconciler.store.rows import COLUMNS, RouteRows, check_precondition, status_of
from reconciler.store.sql import (
    STORE_ID,
    ConnectionPool,
    Encoded,
    dumps,
    dumps_once,
    ensure_schema,
    read_meta,
    schema_version,
    translated,
    write_meta,
)

T = TypeVar("T")

CHUNK = 500  # names per ``IN (...)``: well under SQLite's bound-parameter limit


class SqliteStore(RouteWrites):
    """Routes and hostnames in a SQLite file (WAL mode). Safe to share between threads."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self._pool = ConnectionPool(self.path, busy_timeout)
        # One writer at a time inside this process; busy_timeout covers other processes.
        self._write_lock = threading.Lock()
        self._wal_set = False
        self._rows = RouteRows(self.path)
        self._store_id: str | None = None

    # -- identity -----------------------------------------------------------------------

    @property
    def store_id(self) -> str | None:
        """The random id this store was created with; None while the file does not exist
        (or was written by a routes that gave stores no id, until its next write)."""
        if self._store_id is None:
            self._store_id = self._read(lambda conn: read_meta(conn, STORE_ID), None)
        return self._store_id

    def ensure_store(self) -> str:
        """Create the store (and its id) now if it does not exist; its id."""
        self._write(lambda conn: None)
        self._store_id = None
        found = self.store_id
        assert found is not None  # ensure_schema gave it one in that write
        return found

    @property
    def location(self) -> str:
        """The store's file."""
        return str(self.path)

    # -- routes -------------------------------------------------------------------------

    def list_routes(self) -> list[StoredRoute]:
        """Every route, sorted by name."""
        with gc_paused():
            return self._read(lambda conn: self._rows.select(conn, "ORDER BY name", ()), [])

    def list_page(
        self, page_size: int, after_name: str | None = None
    ) -> tuple[list[StoredRoute], str | None]:
        """Up to ``page_size`` routes named after ``after_name``, and the name to continue
        after (None on the last page). Stable under concurrent writes: pages go by name."""
        if page_size < 1:
            raise UsageError(f"page size must be at least 1 (got {page_size})")
        page: list[StoredRoute] = self._read(
            lambda conn: self._rows.select(
                conn, "WHERE name > ? ORDER BY name LIMIT ?", (after_name or "", page_size + 1)
            ),
            [],
        )
        if len(page) > page_size:
            page = page[:page_size]
            return page, page[-1].name
        return page, None

    def get_route(self, name: str) -> StoredRoute | None:
        """One route, or None."""
        found: list[StoredRoute] = self._read(
            lambda conn: self._rows.select(conn, "WHERE name = ?", (name,)), []
        )
        return found[0] if found else None

    def get_routes(self, names: Iterable[str]) -> dict[str, StoredRoute]:
        """The named routes that exist, fetched ``CHUNK`` names per query."""
        wanted = sorted(set(names))

        def fetch(conn: sqlite3.Connection) -> dict[str, StoredRoute]:
            found: dict[str, StoredRoute] = {}
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                marks = ",".join("?" * len(chunk))
                for route in self._rows.select(conn, f"WHERE name IN ({marks})", tuple(chunk)):
                    found[route.name] = route
            return found

        return self._read(fetch, {}) if wanted else {}

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> StoredRoute:
        """Replace an existing route (``NotFoundError`` if none), if at ``expected_version``."""
        return self.put_route(
            name, spec, labels, annotations, expected_version=expected_version, must_exist=True
        )[0]

    def put_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        *,
        expected_version: str | None = None,
        must_exist: bool = False,
        must_not_exist: bool = False,
    ) -> tuple[StoredRoute, bool]:
        """Create or replace a route in one transaction; True when it was created.

        ``expected_version`` is If-Match (``"*"``: any version) and ``must_not_exist`` is
        If-None-Match: *, either unmet raises ``ConflictError``; ``must_exist`` raises
        ``NotFoundError`` for a missing route.
        """
        if not self.path.exists() and (must_exist or expected_version is not None):
            check_precondition(self.path, name, None, expected_version, must_exist, must_not_exist)

        def write(conn: sqlite3.Connection) -> tuple[StoredRoute, bool]:
            row = conn.execute(
                "SELECT version, created_at FROM routes WHERE name = ?", (name,)
            ).fetchone()
            check_precondition(self.path, name, row, expected_version, must_exist, must_not_exist)
            version = self._next_version(conn)
            now = utc_now()
            conn.execute(
                f"INSERT OR REPLACE INTO routes ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    dumps(spec.to_dict()),
                    dumps(dict(labels)),
                    dumps(dict(annotations)),
                    version,
                    row[1] if row else now,
                    now,
                ),
            )
            return self._rows.select(conn, "WHERE name = ?", (name,))[0], row is None

        return self._write(write)

    def delete_route(self, name: str, expected_version: str | None = None) -> None:
        """Delete a route (``NotFoundError`` if none), if at ``expected_version``."""

        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT version FROM routes WHERE name = ?", (name,)).fetchone()
            check_precondition(self.path, name, row, expected_version, True, False)
            conn.execute("DELETE FROM routes WHERE name = ?", (name,))

        if not self.path.exists():
            check_precondition(self.path, name, None, expected_version, True, False)
        self._write(write)

    def write_routes(self, writes: Sequence[RouteWrite]) -> list[StoredRoute | RoutesError | None]:
        """Many creates, replaces and deletes in one transaction: one commit for all of them.

        Each write is decided as ``create_route`` / ``replace_route`` / ``delete_route``
        would decide it, seeing the writes before it; its entry is the new route, None for
        a delete, or the ``ConflictError`` / ``NotFoundError`` that write alone met (the
        others are still made). Any other failure rolls the whole transaction back.
        """
        if not writes:
            return []

        def write(conn: sqlite3.Connection) -> list[StoredRoute | RoutesError | None]:
            outcomes: list[StoredRoute | RoutesError | None] = []
            status = status_of(conn)
            version = int(read_meta(conn, "version_seq") or 0)
            now = utc_now()
            # A batch's routes mostly have the same labels and annotations: each is encoded once.
            encoded: Encoded = {}
            for item in writes:
                name = item.name
                row = conn.execute(
                    "SELECT version, created_at FROM routes WHERE name = ?", (name,)
                ).fetchone()
                try:
                    check_precondition(
                        self.path,
                        name,
                        row,
                        item.expected_version,
                        item.kind != "create",
                        item.kind == "create",
                    )
                except (ConflictError, NotFoundError) as exc:
                    outcomes.append(exc)
                    continue
                if item.kind == "delete" or item.spec is None:
                    conn.execute("DELETE FROM routes WHERE name = ?", (name,))
                    outcomes.append(None)
                    continue
                version += 1
                labels, annotations = dict(item.labels), dict(item.annotations)
                created_at = row[1] if row else now
                # The store's JSON form of a spec is its canonical JSON (same dumps options).
                values = (
                    item.spec.canonical_json(),
                    dumps_once(labels, encoded),
                    dumps_once(annotations, encoded),
                )
                conn.execute(
                    f"INSERT OR REPLACE INTO routes ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (name, *values, version, created_at, now),
                )
                conditions = status.conditions(item.spec.host, now)
                stored = StoredRoute(
                    name, item.spec, str(version), labels, annotations, created_at, now, conditions
                )
                outcomes.append(stored)
            write_meta(conn, "version_seq", str(version))
            return outcomes

        return self._write(write)

    # -- hostnames and settings -----------------------------------------------------------

    def list_hostnames(self) -> list[Hostname]:
        """The registered hostnames, sorted."""
        rows: list[tuple[str, str]] = self._read(
            lambda conn: conn.execute(
                "SELECT hostname, created_at FROM hostnames ORDER BY hostname"
            ).fetchall(),
            [],
        )
        return [Hostname(hostname, created_at) for hostname, created_at in rows]

    def add_hostname(self, hostname: str) -> Hostname:
        """Register a hostname (canonical form); ``ConflictError`` if it is registered."""
        host = canonical_host(hostname)
        if not host:
            raise UsageError("a hostname must not be empty")

        def write(conn: sqlite3.Connection) -> Hostname:
            now = utc_now()
            cursor = conn.execute(
                "INSERT OR IGNORE INTO hostnames (hostname, created_at) VALUES (?, ?)", (host, now)
            )
            if cursor.rowcount == 0:
                raise ConflictError(f"hostname {host!r} is registered already in {self.path}")
            return Hostname(host, now)

        return self._write(write)

    def remove_hostname(self, hostname: str) -> None:
        """Unregister a hostname; ``NotFoundError`` if it is not registered."""
        host = canonical_host(hostname)

        def write(conn: sqlite3.Connection) -> None:
            cursor = conn.execute("DELETE FROM hostnames WHERE hostname = ?", (host,))
            if cursor.rowcount == 0:
                raise NotFoundError(f"hostname {host!r} is not registered in {self.path}")

        if not self.path.exists():
            raise NotFoundError(f"hostname {host!r} is not registered in {self.path}")
        self._write(write)

    def hostname_mode(self) -> str:
        """``any`` (every host is accepted) or ``registered`` (only registered hostnames)."""
        return self._read(lambda conn: read_meta(conn, "hostname_mode") or "any", "any")

    def set_hostname_mode(self, mode: str) -> None:
        """Switch between ``any`` and ``registered``; routes' conditions follow on read."""
        if mode not in HOSTNAME_MODES:
            raise UsageError(
                f"unknown hostname mode {mode!r}", hint=f"use one of: {', '.join(HOSTNAME_MODES)}"
            )

        def write(conn: sqlite3.Connection) -> None:
            if read_meta(conn, "hostname_mode") != mode:
                write_meta(conn, "hostname_mode", mode)
                write_meta(conn, "hostname_mode_changed_at", utc_now())

        self._write(write)

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()

    # -- internals -----------------------------------------------------------------------

    def _read(self, query: Callable[[sqlite3.Connection], T], empty: T) -> T:
        # A missing file means an empty store: connecting would create it, so don't.
        if not self.path.exists():
            return empty
        with translated(self.path, "read"), self._pool.connection() as conn:
            conn.execute("BEGIN")  # one snapshot for routes, hostnames and settings
            if schema_version(conn, self.path) is None:
                return empty
            return query(conn)

    def _write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        with self._write_lock, translated(self.path, "write"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._pool.connection() as conn:
                if not self._wal_set:
                    conn.execute("PRAGMA journal_mode = WAL")
                    self._wal_set = True
                conn.execute("BEGIN IMMEDIATE")
                ensure_schema(conn, self.path)
                result = change(conn)
                conn.execute("COMMIT")
                return result

    @staticmethod
    def _next_version(conn: sqlite3.Connection) -> int:
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version_seq'")
        return int(read_meta(conn, "version_seq") or 0)
