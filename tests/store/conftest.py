"""The store contract runs against both stores: a SQLite file and a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.store import RouteStore, open_store

Opener = Callable[[], RouteStore]


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh, empty store lives: a file path, or the URL of a new database."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "routes.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def reopen(store_location: str) -> Iterator[Opener]:
    """Opens another store on the same location (another process's view of it)."""
    opened: list[RouteStore] = []

    def opener() -> RouteStore:
        store = open_store(store_location)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(reopen: Opener) -> RouteStore:
    return reopen()
