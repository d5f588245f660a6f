"""The route store in PostgreSQL: one database behind any number of ``routes serve`` replicas.

Same semantics as ``SqliteStore`` (the contract suite runs against both). Every condition
is decided by the statement that writes: ``INSERT … ON CONFLICT DO NOTHING`` for
If-None-Match: *, ``UPDATE … WHERE version = …`` for If-Match, so two replicas racing on one
route have exactly one winner whatever their timing. A write, or a read of one route, is
one statement that also reads the route's status inputs (hostname mode, hostnames), so it
is one round trip and one snapshot; a read of many routes is a read-only REPEATABLE READ
transaction. Connections (autocommit) come from a pool per store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg_pool

from reconciler.canonical import canonical_host
from reconciler.errors import ConflictError, NotFoundError, RoutesError, UsageError
from reconciler.gcpause import gc_paused
from reconciler.model import RouteSpec
from reconciler.store.base import RouteWrites
from reconciler.store.pg_sql import connect_kwargs, location_of, migrate, translated
from reconciler.store.records import (
    HOSTNAME_MODES,
    Hostname,
    RouteWrite,
    StatusContext,
    StoredRoute,
    utc_now,
)
from reconciler.store.rows import COLUMNS, RouteRows, check_precondition
from reconciler.store.sql import dumps

T = TypeVar("T")
Conn = psycopg.Connection[Any]

_INSERT = (
    f"INSERT INTO routes ({COLUMNS})"
    " VALUES (%(name)s, %(spec)s, %(labels)s, %(annotations)s, nextval('route_version'),"
    " %(now)s, %(now)s)"
)
_CREATE = f"{_INSERT} ON CONFLICT (name) DO NOTHING RETURNING {COLUMNS}, true AS created"
_UPSERT = (
    f"{_INSERT} ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, labels = EXCLUDED.labels,"
    " annotations = EXCLUDED.annotations, version = EXCLUDED.version,"
    f" updated_at = EXCLUDED.updated_at RETURNING {COLUMNS}, (xmax = 0) AS created"
)
_REPLACE = (
    "UPDATE routes SET spec = %(spec)s, labels = %(labels)s, annotations = %(annotations)s,"
    " version = nextval('route_version'), updated_at = %(now)s WHERE name = %(name)s"
)
_AT_VERSION = " AND version::text = %(version)s"
_MODE = "(SELECT value FROM meta WHERE key = 'hostname_mode')"
# What a route's conditions depend on, as three columns: uncorrelated subqueries, which
# PostgreSQL evaluates once per statement; the hostnames only in registered mode.
_STATUS = (
    f"{_MODE}, (SELECT value FROM meta WHERE key = 'hostname_mode_changed_at'),"
    " (SELECT json_object_agg(hostname, created_at)::text FROM hostnames"
    f" WHERE {_MODE} = 'registered')"
)
_WIDTH = len(COLUMNS.split(","))


class PostgresStore(RouteWrites):
    """Routes and hostnames in a PostgreSQL database. Safe to share between threads."""

    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout: float = 10.0) -> None:
        self._location = location_of(url)
        settings = connect_kwargs(url)
        with translated(self._location, "open"):
            with psycopg.connect(url, **settings) as conn:
                migrate(conn, self._location)
            self._pool: psycopg_pool.ConnectionPool[Conn] = psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                timeout=pool_timeout,
                kwargs={**settings, "autocommit": True},
                open=False,
                name="routes-store",
            )
            try:
                self._pool.open(wait=True, timeout=pool_timeout)
            except BaseException:
                self._pool.close()  # its workers would go on trying to connect
                raise
        self._rows = RouteRows(self._location)
        self._store_id = self._read(lambda conn: _meta(conn, "store_id"))

    @property
    def location(self) -> str:
        """The database URL, without its password."""
        return self._location

    @property
    def store_id(self) -> str:
        """The UUID the first migration gave this store."""
        return self._store_id

    def ensure_store(self) -> str:
        """The store exists from its first open (the migrations made it): its id."""
        return self._store_id

    # -- routes -------------------------------------------------------------------------

    def list_routes(self) -> list[StoredRoute]:
        """Every route, sorted by name."""
        with gc_paused():
            return self._read(lambda conn: self._select(conn, "ORDER BY name", ()))

    def list_page(
        self, page_size: int, after_name: str | None = None
    ) -> tuple[list[StoredRoute], str | None]:
        """Up to ``page_size`` routes named after ``after_name``, and the name to continue
        after (None on the last page). Stable under concurrent writes: pages go by name."""
        if page_size < 1:
            raise UsageError(f"page size must be at least 1 (got {page_size})")
        where = "WHERE name > %s ORDER BY name LIMIT %s"
        page = self._read(lambda conn: self._select(conn, where, (after_name or "", page_size + 1)))
        if len(page) > page_size:
            page = page[:page_size]
            return page, page[-1].name
        return page, None

    def get_route(self, name: str) -> StoredRoute | None:
        """One route, or None: one statement, so one snapshot without a transaction."""
        statement = f"SELECT {COLUMNS}, {_STATUS} FROM routes WHERE name = %s"
        row = self._use("read", lambda conn: conn.execute(statement, (name,)).fetchone())
        return None if row is None else self._stored(row[:_WIDTH], row[_WIDTH:])

    def get_routes(self, names: Iterable[str]) -> dict[str, StoredRoute]:
        """The named routes that exist, in one query."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        found = self._read(lambda conn: self._select(conn, "WHERE name = ANY(%s)", (wanted,)))
        return {route.name: route for route in found}

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
        """Create or replace a route in one statement; True when it was created.

        ``expected_version`` is If-Match (``"*"``: any version) and ``must_not_exist`` is
        If-None-Match: *, either unmet raises ``ConflictError``; ``must_exist`` raises
        ``NotFoundError`` for a missing route.
        """
        values = {
            "name": name,
            "spec": dumps(spec.to_dict()),
            "labels": dumps(dict(labels)),
            "annotations": dumps(dict(annotations)),
            "now": utc_now(),
            "version": expected_version,
        }
        if must_not_exist:
            statement = _CREATE
        elif expected_version is None and not must_exist:
            statement = _UPSERT
        else:
            at_version = expected_version not in (None, "*")
            condition = _AT_VERSION if at_version else ""
            statement = f"{_REPLACE}{condition} RETURNING {COLUMNS}, false AS created"
        statement = f"WITH written AS ({statement}) SELECT written.*, {_STATUS} FROM written"

        def write(conn: Conn) -> tuple[StoredRoute, bool]:
            row = conn.execute(statement, values).fetchone()
            if row is None:
                self._refuse(conn, name, expected_version, must_exist, must_not_exist)
            assert row is not None
            return self._stored(row[:_WIDTH], row[_WIDTH + 1 :]), bool(row[_WIDTH])

        return self._write(write)

    def delete_route(self, name: str, expected_version: str | None = None) -> None:
        """Delete a route (``NotFoundError`` if none), if at ``expected_version``."""
        at_version = expected_version not in (None, "*")
        statement = "DELETE FROM routes WHERE name = %(name)s" + (_AT_VERSION if at_version else "")

        def write(conn: Conn) -> None:
            deleted = conn.execute(statement, {"name": name, "version": expected_version})
            if deleted.rowcount == 0:
                self._refuse(conn, name, expected_version, True, False)

        self._write(write)

    def write_routes(self, writes: Sequence[RouteWrite]) -> list[StoredRoute | RoutesError | None]:
        """Many creates, replaces and deletes in one transaction (as ``SqliteStore`` does).

        Each write is one conditional statement, decided as the single-route method would
        decide it and seeing the writes before it; its entry is the new route, None for a
        delete, or the ``ConflictError`` / ``NotFoundError`` that write alone met. Any other
        failure rolls the whole transaction back.
        """
        if not writes:
            return []

        def write(conn: Conn) -> list[StoredRoute | RoutesError | None]:
            outcomes: list[StoredRoute | RoutesError | None] = []
            with conn.transaction():
                status = _status(conn)
                now = utc_now()
                for item in writes:
                    try:
                        outcomes.append(self._write_one(conn, item, status, now))
                    except (ConflictError, NotFoundError) as exc:
                        outcomes.append(exc)
            return outcomes

        return self._write(write)

    def _write_one(
        self, conn: Conn, item: RouteWrite, status: StatusContext, now: str
    ) -> StoredRoute | None:
        """One write of a batch, in the batch's transaction; its error when refused."""
        at_version = item.expected_version not in (None, "*")
        condition = _AT_VERSION if at_version else ""
        if item.kind == "delete" or item.spec is None:
            statement = f"DELETE FROM routes WHERE name = %(name)s{condition}"
            deleted = conn.execute(statement, {"name": item.name, "version": item.expected_version})
            if deleted.rowcount == 0:
                self._refuse(conn, item.name, item.expected_version, True, False)
            return None
        values = {
            "name": item.name,
            "spec": item.spec.canonical_json(),
            "labels": dumps(dict(item.labels)),
            "annotations": dumps(dict(item.annotations)),
            "now": now,
            "version": item.expected_version,
        }
        creating = item.kind == "create"
        statement = _CREATE if creating else f"{_REPLACE}{condition} RETURNING {COLUMNS}"
        row = conn.execute(statement, values).fetchone()
        if row is None:
            expected = None if creating else item.expected_version
            self._refuse(conn, item.name, expected, not creating, creating)
        assert row is not None
        return self._rows.stored(row[:_WIDTH], status)

    def _refuse(
        self,
        conn: Conn,
        name: str,
        expected_version: str | None,
        must_exist: bool,
        must_not_exist: bool,
    ) -> None:
        """Raise the error a write that changed nothing owes its caller."""
        row = conn.execute("SELECT version FROM routes WHERE name = %s", (name,)).fetchone()
        check_precondition(self._location, name, row, expected_version, must_exist, must_not_exist)
        # The route changed between the write and this look: the condition was not met then.
        raise ConflictError(
            f"route {name!r} in {self._location} changed during the write",
            hint="someone else changed it: plan again",
        )

    # -- hostnames and settings -----------------------------------------------------------

    def list_hostnames(self) -> list[Hostname]:
        """The registered hostnames, sorted."""
        rows = self._read(
            lambda conn: conn.execute(
                "SELECT hostname, created_at FROM hostnames ORDER BY hostname"
            ).fetchall()
        )
        return [Hostname(hostname, created_at) for hostname, created_at in rows]

    def add_hostname(self, hostname: str) -> Hostname:
        """Register a hostname (canonical form); ``ConflictError`` if it is registered."""
        host = canonical_host(hostname)
        if not host:
            raise UsageError("a hostname must not be empty")

        def write(conn: Conn) -> Hostname:
            now = utc_now()
            added = conn.execute(
                "INSERT INTO hostnames (hostname, created_at) VALUES (%s, %s)"
                " ON CONFLICT (hostname) DO NOTHING",
                (host, now),
            )
            if added.rowcount == 0:
                raise ConflictError(f"hostname {host!r} is registered already in {self.location}")
            return Hostname(host, now)

        return self._write(write)

    def remove_hostname(self, hostname: str) -> None:
        """Unregister a hostname; ``NotFoundError`` if it is not registered."""
        host = canonical_host(hostname)

        def write(conn: Conn) -> None:
            removed = conn.execute("DELETE FROM hostnames WHERE hostname = %s", (host,))
            if removed.rowcount == 0:
                raise NotFoundError(f"hostname {host!r} is not registered in {self.location}")

        self._write(write)

    def hostname_mode(self) -> str:
        """``any`` (every host is accepted) or ``registered`` (only registered hostnames)."""
        return self._read(lambda conn: _meta(conn, "hostname_mode") or "any")

    def set_hostname_mode(self, mode: str) -> None:
        """Switch between ``any`` and ``registered``; routes' conditions follow on read."""
        if mode not in HOSTNAME_MODES:
            raise UsageError(
                f"unknown hostname mode {mode!r}", hint=f"use one of: {', '.join(HOSTNAME_MODES)}"
            )

        # One statement: the row lock orders replicas switching at once, and only a real
        # switch is stamped.
        statement = (
            "WITH switched AS (UPDATE meta SET value = %(mode)s WHERE key = 'hostname_mode'"
            " AND value <> %(mode)s RETURNING key) UPDATE meta SET value = %(now)s"
            " WHERE key = 'hostname_mode_changed_at' AND EXISTS (SELECT 1 FROM switched)"
        )

        def write(conn: Conn) -> None:
            conn.execute(statement, {"mode": mode, "now": utc_now()})

        self._write(write)

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()

    # -- internals -----------------------------------------------------------------------

    def _select(self, conn: Conn, where: str, params: tuple[Any, ...]) -> list[StoredRoute]:
        rows = conn.execute(f"SELECT {COLUMNS} FROM routes {where}", params).fetchall()
        status = _status(conn) if rows else StatusContext()
        return [self._rows.stored(row, status) for row in rows]

    def _stored(self, route: Sequence[Any], status: Sequence[Any]) -> StoredRoute:
        mode, changed_at, hostnames = status
        context = StatusContext(
            mode or "any", changed_at or "", json.loads(hostnames) if hostnames else {}
        )
        return self._rows.stored(route, context)

    def _read(self, query: Callable[[Conn], T]) -> T:
        """``query`` in one snapshot for routes, hostnames and settings, as SQLite reads."""

        def in_snapshot(conn: Conn) -> T:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                return query(conn)
            finally:
                conn.execute("ROLLBACK")  # it wrote nothing; the pool gets it idle

        return self._use("read", in_snapshot)

    def _write(self, change: Callable[[Conn], T]) -> T:
        # Each write is one statement (autocommit), at READ COMMITTED: a statement that
        # waits on another writer's row re-checks its WHERE against the row that writer
        # committed, so a condition is never decided on a stale version.
        return self._use("write", change)

    def _use(self, doing: str, work: Callable[[Conn], T]) -> T:
        with translated(self._location, doing), self._pool.connection() as conn:
            return work(conn)


def _meta(conn: Conn, key: str) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
    return "" if row is None else str(row[0])


def _status(conn: Conn) -> StatusContext:
    rows = dict(
        conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('hostname_mode', 'hostname_mode_changed_at')"
        ).fetchall()
    )
    mode = rows.get("hostname_mode") or "any"
    hostnames: dict[str, str] = {}
    if mode == "registered":
        hostnames = dict(conn.execute("SELECT hostname, created_at FROM hostnames").fetchall())
    return StatusContext(mode, rows.get("hostname_mode_changed_at") or "", hostnames)
