"""The local SQLite store: what the contract suite cannot see (files, modes, errors, paging)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from reconciler.errors import (
    BackendError,
    TransientBackendError,
)
from reconciler.model import RouteSpec
from reconciler.store import RouteWrite, StoredRoute
from reconciler.store import sql as local_sql
from reconciler.store.sqlite import SqliteStore
from tests.backends.contract import ANNOTATIONS, FULL_FEATURES, LABELS, simple_spec

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "state" / "routes.db")


# -- files --------------------------------------------------------------------------------


def test_store_uses_wal_journal(store: SqliteStore) -> None:
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_spec_is_stored_as_canonical_json(store: SqliteStore) -> None:
    spec = RouteSpec.from_dict(FULL_FEATURES)
    store.create_route("shop", spec, LABELS, ANNOTATIONS)
    with sqlite3.connect(store.path) as conn:
        raw, labels = conn.execute("SELECT spec, labels FROM routes WHERE name='shop'").fetchone()
    assert json.loads(raw) == spec.to_dict()
    assert json.loads(labels) == LABELS
    store.close()


# -- errors ---------------------------------------------------------------------------------


def test_corrupt_file_is_a_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    store = SqliteStore(path)
    for action in (
        store.list_routes,
        lambda: store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS),
    ):
        with pytest.raises(BackendError) as caught:
            action()
        assert not isinstance(caught.value, TransientBackendError)
        assert str(path) in caught.value.message
        assert "not a readable routes store" in caught.value.message
        assert caught.value.hint and "backup" in caught.value.hint
    store.close()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    store = SqliteStore(path)
    with pytest.raises(BackendError, match="not a routes store"):
        store.list_routes()
    with pytest.raises(BackendError, match="not a routes store"):
        store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    store.close()


def test_newer_schema_is_refused(store: SqliteStore) -> None:
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    fresh = SqliteStore(store.path)
    with pytest.raises(BackendError, match="newer routes") as caught:
        fresh.list_routes()
    assert caught.value.hint and "upgrade" in caught.value.hint
    store.close()
    fresh.close()


def test_folder_that_cannot_be_created_is_a_readable_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be\n")
    store = SqliteStore(blocker / "state.db")
    with pytest.raises(BackendError) as caught:
        store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    assert str(blocker / "state.db") in caught.value.message
    assert caught.value.hint and "writable" in caught.value.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_read_only_folder_is_a_readable_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        store = SqliteStore(folder / "state.db")
        with pytest.raises(BackendError) as caught:
            store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        assert str(folder / "state.db") in caught.value.message
    finally:
        folder.chmod(0o700)


def test_read_only_database_is_a_readable_error(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    store.close()

    def open_read_only(pool: local_sql.ConnectionPool) -> sqlite3.Connection:
        # What a file the user may not write looks like to sqlite, even when tests run as root.
        uri = f"file:{store.path}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)

    monkeypatch.setattr(local_sql.ConnectionPool, "_open", open_read_only)
    read_only = SqliteStore(store.path)
    assert [r.name for r in read_only.list_routes()] == ["shop"]
    with pytest.raises(BackendError, match="read-only") as caught:
        read_only.create_route("cart", simple_spec(), LABELS, ANNOTATIONS)
    assert str(store.path) in caught.value.message
    read_only.close()


def test_locked_database_is_a_transient_error(store: SqliteStore) -> None:
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    impatient = SqliteStore(store.path, busy_timeout=0.05)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(TransientBackendError, match="locked") as caught:
            impatient.create_route("cart", simple_spec(), LABELS, ANNOTATIONS)
        assert str(store.path) in caught.value.message
        # Readers are not blocked by a writer in WAL mode.
        assert [r.name for r in impatient.list_routes()] == ["shop"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    impatient.create_route("cart", simple_spec(), LABELS, ANNOTATIONS)
    store.close()
    impatient.close()


@pytest.mark.parametrize("column", ["labels", "annotations"])
@pytest.mark.parametrize(
    ("stored", "got"),
    [("[1,2]", "a list"), ('"team"', "a string"), ("null", "null"), ('{"team": 1}', "a number")],
)
def test_a_labels_row_of_the_wrong_json_type_names_the_route_and_the_file(
    store: SqliteStore, column: str, stored: str, got: str
) -> None:
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    db = sqlite3.connect(store.path)
    db.execute(f"UPDATE routes SET {column} = ? WHERE name = 'shop'", (stored,))
    db.commit()
    db.close()
    for read in (store.list_routes, lambda: store.get_route("shop")):
        with pytest.raises(BackendError) as caught:
            read()
        message = caught.value.message
        assert f"route 'shop' in {store.path} is unreadable" in message
        assert f"{column} must be a JSON object of strings, not {got}" in message
        assert caught.value.hint and "backup" in caught.value.hint
    store.close()


# -- many writes in one transaction ---------------------------------------------------------


def test_write_routes_into_a_new_file_creates_the_store(store: SqliteStore) -> None:
    assert not store.path.exists()
    outcomes = store.write_routes(
        [RouteWrite(f"r{i}", "create", simple_spec(f"r{i}.example.com")) for i in range(3)]
    )
    assert [o.name for o in outcomes if isinstance(o, StoredRoute)] == ["r0", "r1", "r2"]
    assert [r.name for r in store.list_routes()] == ["r0", "r1", "r2"]
    assert store.write_routes([]) == []
    store.close()
