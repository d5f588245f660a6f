"""The route store interface: what the `local` backend and `routes serve` ask of a store.

Two implementations keep the same semantics (the contract suite in ``tests/store/`` runs
against both): ``SqliteStore`` (one file) and ``PostgresStore`` (one database behind any
number of ``routes serve`` replicas). Versions only grow, conditional writes are decided
inside the database, and route status follows the store's hostname mode when read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from reconciler.errors import RoutesError
from reconciler.model import RouteSpec
from reconciler.store.records import Hostname, RouteWrite, StoredRoute

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    """True when ``location`` names a PostgreSQL database rather than a SQLite file."""
    return location.lower().startswith(POSTGRES_SCHEMES)


class RouteStore(Protocol):
    """Routes and hostnames, with conditional writes. Safe to share between threads."""

    @property
    def location(self) -> str:
        """Where the store is, for messages: a file path, or a database URL without password."""
        ...

    @property
    def store_id(self) -> str | None:
        """The store's identity: a UUID made when the store was created, never changed;
        None while a SQLite store's file does not exist yet."""
        ...

    def ensure_store(self) -> str:
        """Create the store (and its id) now if it does not exist; its id."""
        ...

    def list_routes(self) -> list[StoredRoute]:
        """Every route, sorted by name."""
        ...

    def list_page(
        self, page_size: int, after_name: str | None = None
    ) -> tuple[list[StoredRoute], str | None]:
        """Up to ``page_size`` routes named after ``after_name``, and the name to continue
        after (None on the last page)."""
        ...

    def get_route(self, name: str) -> StoredRoute | None:
        """One route, or None."""
        ...

    def get_routes(self, names: Iterable[str]) -> dict[str, StoredRoute]:
        """The named routes that exist."""
        ...

    def create_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> StoredRoute:
        """Create a route; ``ConflictError`` when one with that name exists."""
        ...

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> StoredRoute:
        """Replace an existing route (``NotFoundError`` if none), if at ``expected_version``."""
        ...

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
        """Create or replace a route atomically; True when it was created."""
        ...

    def delete_route(self, name: str, expected_version: str | None = None) -> None:
        """Delete a route (``NotFoundError`` if none), if at ``expected_version``."""
        ...

    def write_routes(self, writes: Sequence[RouteWrite]) -> list[StoredRoute | RoutesError | None]:
        """Many creates, replaces and deletes in one transaction, each decided on its own:
        the new route, None for a delete, or the ``ConflictError`` / ``NotFoundError`` that
        write met; any other failure rolls the whole transaction back and is raised."""
        ...

    def list_hostnames(self) -> list[Hostname]:
        """The registered hostnames, sorted."""
        ...

    def add_hostname(self, hostname: str) -> Hostname:
        """Register a hostname (canonical form); ``ConflictError`` if it is registered."""
        ...

    def remove_hostname(self, hostname: str) -> None:
        """Unregister a hostname; ``NotFoundError`` if it is not registered."""
        ...

    def hostname_mode(self) -> str:
        """``any`` (every host is accepted) or ``registered`` (only registered hostnames)."""
        ...

    def set_hostname_mode(self, mode: str) -> None:
        """Switch between ``any`` and ``registered``."""
        ...

    def close(self) -> None:
        """Release the store's connections."""
        ...


class RouteWrites:
    """``create_route`` and ``replace_route``, as the two stores define them: ``put_route``
    with If-None-Match: * or If-Match (the store's one conditional write)."""

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
    ) -> tuple[StoredRoute, bool]:  # pragma: no cover - each store defines it
        raise NotImplementedError

    def create_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> StoredRoute:
        """Create a route; ``ConflictError`` when one with that name exists."""
        return self.put_route(name, spec, labels, annotations, must_not_exist=True)[0]

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
