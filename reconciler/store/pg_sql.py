"""PostgreSQL plumbing for the route store: the URL, the migrations, error translation.

The schema is created and upgraded by ``migrate``: one step per schema version, each in
the transaction that records it, under an advisory lock so replicas starting together
migrate once. A database whose schema is newer than this release knows is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote as url_quote

import psycopg
import psycopg_pool
from psycopg import conninfo as pg_conninfo

from reconciler.errors import BackendError, TransientBackendError, UsageError

# Each step takes the schema from version i to i + 1; append, never edit a released step.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE routes (name TEXT PRIMARY KEY, spec TEXT NOT NULL, labels TEXT NOT NULL,"
        " annotations TEXT NOT NULL, version BIGINT NOT NULL, created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL)",
        "CREATE TABLE hostnames (hostname TEXT PRIMARY KEY, created_at TEXT NOT NULL)",
        # Versions come from one sequence: it only grows (nextval is never rolled back), so
        # a deleted and re-created route never gets an old version back.
        "CREATE SEQUENCE route_version AS BIGINT",
        "INSERT INTO meta (key, value) VALUES ('hostname_mode', 'any'),"
        " ('hostname_mode_changed_at', ''), ('store_id', gen_random_uuid()::text)",
    ),
)
MIGRATION_LOCK = 0x726F75746573  # "routes": one advisory lock id for every replica
CONNECT_TIMEOUT = 10  # seconds


def location_of(url: str) -> str:
    """The database URL as messages show it: user, host, port and database, no password."""
    options = connection_options(url)
    user = f"{url_quote(options['user'], safe='')}@" if options.get("user") else ""
    host = options.get("host", "")
    port = options.get("port", "")
    if host.startswith("/"):  # a unix socket folder
        where = f"/{options.get('dbname', '')}?host={host}"
        return f"postgresql://{user}{where}" + (f"&port={port}" if port else "")
    netloc = f"{user}{host}" + (f":{port}" if port else "")
    return f"postgresql://{netloc}/{options.get('dbname', '')}"


def connection_options(url: str) -> dict[str, str]:
    """The URL's connection parameters; ``UsageError`` (never showing the URL) when malformed."""
    try:
        parsed = pg_conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        # libpq's message quotes the URL, password and all: say what is wrong without it.
        raise UsageError(
            "the --db URL is not a valid PostgreSQL connection URL",
            hint="use postgresql://USER@HOST:PORT/DATABASE (the password in PGPASSWORD or "
            "~/.pgpass, not in the URL)",
        ) from None
    return {key: str(value) for key, value in parsed.items() if value is not None}


def connect_kwargs(url: str) -> dict[str, Any]:
    """Settings every store connection gets unless the URL sets them itself."""
    defaults = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "routes"}
    given = connection_options(url)
    return {key: value for key, value in defaults.items() if key not in given}


def migrate(conn: psycopg.Connection[Any], location: str) -> int:
    """Create or upgrade the schema in one transaction; the schema version it is now at."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        }
        if "schema_version" not in tables:
            clash = sorted(tables & {"meta", "routes", "hostnames"})
            if clash:
                raise BackendError(
                    f"{location} holds tables that are not a routes store ({', '.join(clash)})",
                    hint="give routes a database (or a schema, with options=-csearch_path=S) "
                    "of its own",
                )
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = int(row[0] or 0) if row else 0
        if current > len(MIGRATIONS):
            raise BackendError(
                f"{location} was written by a newer routes (store schema {current}, "
                f"this one knows {len(MIGRATIONS)})",
                hint="upgrade routes-reconciler to use this store",
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        return len(MIGRATIONS)


# SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_RETRYABLE = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})
_READ_ONLY = "25006"
_PRIVILEGE = "42501"


def pg_error(exc: Exception, location: str, doing: str) -> BackendError:
    """The user-facing error for one psycopg failure, by its SQLSTATE."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return TransientBackendError(
            f"route store {location}: no database connection came free in time",
            hint="the database is slow or unreachable; retry, or give it more connections",
        )
    text = " ".join(str(exc).split())
    state = getattr(exc, "sqlstate", None)
    if state == _READ_ONLY:
        return BackendError(
            f"cannot {doing} the route store {location}: the database is read-only ({text})",
            hint="point --db at the primary, not at a standby",
        )
    if state == _PRIVILEGE:
        return BackendError(
            f"cannot {doing} the route store {location}: {text}",
            hint="grant the role routes connects as the rights on its tables "
            "(it creates them on first start)",
        )
    if state in _RETRYABLE or (state or "").startswith("08") or _connection_lost(exc, state):
        return TransientBackendError(
            f"cannot {doing} the route store {location}: {text}",
            hint="check that PostgreSQL is up and reachable, then retry",
        )
    return BackendError(f"cannot {doing} the route store {location}: postgresql error: {text}")


def _connection_lost(exc: Exception, state: str | None) -> bool:
    # A connection that died carries no SQLSTATE: libpq saw the socket close.
    return state is None and isinstance(exc, psycopg.OperationalError)


@contextmanager
def translated(location: str, doing: str) -> Iterator[None]:
    """Turn psycopg failures into ``BackendError`` naming the store (never its password)."""
    try:
        yield
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        raise pg_error(exc, location, doing) from exc
