"""The embedded default backend (``local`` / ``local:PATH``): the backend protocol over a
``SqliteStore`` SQLite file, by default ``.routes/state.db`` next to the config file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from reconciler.backends.base import BaseBackend, Capabilities, StoreIdentity
from reconciler.backends.options import LocalOptions
from reconciler.gcpause import gc_paused
from reconciler.model import LiveRoute, RouteSpec
from reconciler.store import Hostname, SqliteStore, StoredRoute

__all__ = ["DEFAULT_PATH", "Hostname", "LocalBackend", "SqliteStore", "StoredRoute", "open_local"]

DEFAULT_PATH = Path(".routes") / "state.db"


class LocalBackend(BaseBackend):
    """The backend protocol over a ``SqliteStore``."""

    capabilities = Capabilities(labels=True, conditional_writes=True)

    def __init__(self, store: SqliteStore, url: str | None = None) -> None:
        self.store = store
        self.url = url or f"local:{store.path}"

    def list_routes(self) -> list[LiveRoute]:
        """Every route, sorted by name."""
        with gc_paused():  # see gc_paused: thousands of surviving routes, no cycles
            return [route.to_live() for route in self.store.list_routes()]

    def get_route(self, name: str) -> LiveRoute | None:
        """One route, or None."""
        route = self.store.get_route(name)
        return route.to_live() if route else None

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        """The named routes that exist, in batched queries."""
        return {name: route.to_live() for name, route in self.store.get_routes(names).items()}

    def unregistered_hosts(self, hosts: Iterable[str]) -> set[str]:
        """In ``registered`` mode, the hosts that are not registered hostnames."""
        wanted = set(hosts)
        if not wanted or self.store.hostname_mode() != "registered":
            return set()
        return wanted - {h.hostname for h in self.store.list_hostnames()}

    def create_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> LiveRoute:
        """Create a route; ``ConflictError`` when it exists."""
        return self.store.create_route(name, spec, labels, annotations).to_live()

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> LiveRoute:
        """Replace a route if its version is as expected."""
        return self.store.replace_route(name, spec, labels, annotations, expected_version).to_live()

    def delete_route(self, name: str, expected_version: str | None) -> None:
        """Delete a route if its version is as expected."""
        self.store.delete_route(name, expected_version)

    def identity(self) -> StoreIdentity:
        """The store file's absolute path and the id it was created with."""
        return StoreIdentity(str(self.store.path.resolve()), self.store.store_id)

    def close(self) -> None:
        self.store.close()


def local_path(url: str, options: LocalOptions | None = None) -> Path:
    """The database file for ``local`` / ``local:PATH``, relative paths against the config."""
    root = (options or LocalOptions()).root
    _, _, raw = url.partition(":")
    candidate = Path(raw).expanduser() if raw.strip() else DEFAULT_PATH
    return candidate if candidate.is_absolute() else root / candidate


def open_local(url: str, options: LocalOptions | None = None) -> LocalBackend:
    """The ``local`` backend for ``url``; nothing is created until the first write."""
    # `local` and `local:.routes/state.db` are the same store: one name, so a saved plan
    # made with either applies with either.
    if url.strip().lower() in ("local", "local:"):
        url = f"local:{DEFAULT_PATH.as_posix()}"
    return LocalBackend(SqliteStore(local_path(url, options)), url)
