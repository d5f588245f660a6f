"""The route store shared by the `local` backend and `routes serve`: SQLite today.

Its public surface is this package's names; the server and the `local` backend use only
these, never the modules' internals.
"""

from reconciler.store.records import Hostname, RouteWrite, StoredRoute
from reconciler.store.sqlite import SqliteStore

__all__ = ["Hostname", "RouteWrite", "SqliteStore", "StoredRoute"]
