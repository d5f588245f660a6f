"""sqlite3 failures -> the store's errors, by SQLite result code (not by message text)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.errors import TransientBackendError
from reconciler.store.sql import primary_code, sqlite_error

STORE = Path("/srv/routes/state.db")


def failure(code: int, message: str) -> sqlite3.Error:
    """An sqlite3 error as the module raises it for ``code``."""
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code
    exc.sqlite_errorname = "?"
    return exc


def test_a_real_failure_carries_its_code(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "state.db")
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute("SELECT * FROM locked_routes")  # "no such table": nothing is locked
    conn.close()
    assert primary_code(caught.value) == sqlite3.SQLITE_ERROR
    error = sqlite_error(caught.value, STORE, "read")
    assert not isinstance(error, TransientBackendError)
    assert error.message == (
        f"cannot read the route store {STORE}: sqlite error: no such table: locked_routes"
    )


def test_a_file_that_is_not_a_database_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database, just text long enough to have a header" * 20)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        conn.execute("SELECT name FROM sqlite_master")
    conn.close()
    error = sqlite_error(caught.value, path, "read")
    assert error.message.startswith(f"{path} is not a readable routes store (")


@pytest.mark.parametrize(
    ("code", "message", "starts", "transient"),
    [
        (sqlite3.SQLITE_BUSY, "database is locked", "route store", True),
        (sqlite3.SQLITE_BUSY_SNAPSHOT, "database is locked", "route store", True),
        (sqlite3.SQLITE_LOCKED, "database table is locked", "route store", True),
        (
            sqlite3.SQLITE_READONLY_DIRECTORY,
            "attempt to write a readonly database",
            "cannot write",
            False,
        ),
        (sqlite3.SQLITE_CORRUPT, "database disk image is malformed", f"{STORE} is not", False),
        (sqlite3.SQLITE_NOTADB, "file is not a database", f"{STORE} is not", False),
        (sqlite3.SQLITE_CANTOPEN_ISDIR, "unable to open database file", "cannot open", False),
        (sqlite3.SQLITE_IOERR_SHORT_READ, "disk I/O error", "cannot write", False),
        (sqlite3.SQLITE_FULL, "database or disk is full", "cannot write", False),
        # The words of another kind in the text change nothing: the code decides.
        (sqlite3.SQLITE_CONSTRAINT, "busy: unique constraint on disk_full", "cannot write", False),
    ],
)
def test_each_kind_of_failure_by_its_code(
    code: int, message: str, starts: str, transient: bool
) -> None:
    error = sqlite_error(failure(code, message), STORE, "write")
    assert error.message.startswith(starts)
    assert isinstance(error, TransientBackendError) is transient
    assert str(STORE) in error.message


def test_an_error_of_the_module_itself_is_a_plain_store_error() -> None:
    error = sqlite_error(
        sqlite3.ProgrammingError("Cannot operate on a closed database."), STORE, "read"
    )
    assert primary_code(sqlite3.ProgrammingError("x")) is None
    assert error.message.endswith("sqlite error: Cannot operate on a closed database.")
