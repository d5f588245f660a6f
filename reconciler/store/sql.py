"""SQLite plumbing for the local store: schema, connection pool, error translation."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler.errors import BackendError, TransientBackendError

SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE routes (name TEXT PRIMARY KEY, spec TEXT NOT NULL, labels TEXT NOT NULL,"
    " annotations TEXT NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE hostnames (hostname TEXT PRIMARY KEY, created_at TEXT NOT NULL) WITHOUT ROWID",
    f"INSERT INTO schema_version (version) VALUES ({SCHEMA_VERSION})",
    "INSERT INTO meta (key, value) VALUES ('version_seq', '0'), ('hostname_mode', 'any'),"
    " ('hostname_mode_changed_at', '')",
)


def schema_version(conn: sqlite3.Connection, path: Path) -> int | None:
    """The store's schema version; None for an empty file. Refuses foreign or newer files."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_version" not in tables:
        if tables:
            raise BackendError(
                f"{path} is a SQLite database but not a routes store "
                f"(tables: {', '.join(sorted(tables))})",
                hint="point the backend at another file, e.g. --backend local:.routes/state.db",
            )
        return None
    version = int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
    if version > SCHEMA_VERSION:
        raise BackendError(
            f"{path} was written by a newer routes (store schema {version}, "
            f"this one knows {SCHEMA_VERSION})",
            hint="upgrade routes-reconciler to use this store",
        )
    return version


def ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create the tables inside the caller's write transaction when the file is new, and
    give the store its id (a store written before ids existed gets one on its next write)."""
    if schema_version(conn, path) is None:
        for statement in _SCHEMA:
            conn.execute(statement)
    if read_meta(conn, STORE_ID) is None:
        write_meta(conn, STORE_ID, str(uuid.uuid4()))
    # Later schema versions migrate here, one step per version, in the same transaction.


STORE_ID = "store_id"  # meta key: the random id a store is created with (plans name it)


class ConnectionPool:
    """Idle connections handed out one per concurrent caller, so threads never share one."""

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for the duration of the block, returned to the pool afterwards."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._open()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.rollback()
            with self._lock:
                keep = not self._closed
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        """Close every idle connection (busy ones are closed when they come back)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
        for conn in idle:
            conn.close()

    def _open(self) -> sqlite3.Connection:
        if not self._path.exists():
            # A new store is created 0600 (SQLite gives its -wal and -shm files the same).
            with contextlib.suppress(FileExistsError, FileNotFoundError):
                os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,  # we issue BEGIN / COMMIT ourselves
            check_same_thread=False,  # the pool hands a connection to one thread at a time
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: durable at checkpoints
        return conn


@contextmanager
def translated(path: Path, doing: str) -> Iterator[None]:
    """Turn sqlite3 and file-system failures into ``BackendError`` naming the file and a fix."""
    try:
        yield
    except sqlite3.Error as exc:
        raise sqlite_error(exc, path, doing) from exc
    except OSError as exc:
        raise BackendError(
            f"cannot {doing} the route store {path}: {exc.strerror or exc}",
            hint="check that the folder exists and is writable by this user, "
            "or choose another file with --backend local:PATH",
        ) from exc


# Result codes by kind (https://www.sqlite.org/rescode.html). An extended code (say
# SQLITE_READONLY_DIRECTORY) carries its primary code in its low byte.
_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_NOT_A_STORE = frozenset({sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT})
_DISK = frozenset({sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL})


def primary_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of ``exc`` (None for errors of the sqlite3 module)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def sqlite_error(exc: sqlite3.Error, path: Path, doing: str) -> BackendError:
    """The user-facing error for one sqlite3 failure, by its SQLite result code."""
    text = str(exc)
    code = primary_code(exc)
    if code in _LOCKED:
        return TransientBackendError(
            f"route store {path} is locked by another process ({text})",
            hint="wait for the other routes command or server using it to finish, then retry",
        )
    if code == sqlite3.SQLITE_READONLY:
        return BackendError(
            f"cannot {doing} the route store {path}: it is read-only",
            hint="make the file and its folder writable by this user, "
            "or choose another file with --backend local:PATH",
        )
    if code in _NOT_A_STORE:
        return BackendError(
            f"{path} is not a readable routes store ({text})",
            hint="move the file aside (routes starts a new store on the next write) "
            "or restore it from a backup",
        )
    if code == sqlite3.SQLITE_CANTOPEN:
        return BackendError(
            f"cannot open the route store {path}",
            hint="check that its folder exists and is writable, "
            "or choose another file with --backend local:PATH",
        )
    if code in _DISK:
        return BackendError(
            f"cannot {doing} the route store {path}: {text}",
            hint="free disk space or check the file system, then retry",
        )
    return BackendError(f"cannot {doing} the route store {path}: sqlite error: {text}")


def read_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def write_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def dumps(value: Any) -> str:
    return _COMPACT.encode(value)


# json.dumps with these options, made once: dumps runs twice per route written.
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


Encoded = dict[tuple[tuple[str, str], ...], str]  # the items of a mapping -> its dumps()


def dumps_once(mapping: Mapping[str, str], done: Encoded) -> str:
    """``dumps(mapping)``, from ``done`` when a mapping of the same items was encoded."""
    key = tuple(mapping.items())
    found = done.get(key)
    if found is None:
        found = done[key] = dumps(mapping)
    return found
