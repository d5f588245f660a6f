"""The route store shared by the `local` backend and `routes serve`: SQLite or PostgreSQL.

Its public surface is this package's names; the server and the `local` backend use only
these, never the modules' internals. ``PostgresStore`` lives in ``reconciler.store.postgres``
and is imported only when a PostgreSQL URL is opened, so the CLI does not load psycopg.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.store.base import RouteStore, is_postgres_url
from reconciler.store.records import Hostname, RouteWrite, StoredRoute
from reconciler.store.sqlite import SqliteStore

__all__ = [
    "Hostname",
    "RouteStore",
    "RouteWrite",
    "SqliteStore",
    "StoredRoute",
    "is_postgres_url",
    "open_store",
]


def open_store(location: str) -> RouteStore:
    """The store at ``location``: a ``postgresql://`` URL, or the path of a SQLite file."""
    if is_postgres_url(location):
        from reconciler.store.postgres import PostgresStore

        return PostgresStore(location)
    return SqliteStore(Path(location))
