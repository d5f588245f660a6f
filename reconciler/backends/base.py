"""The backend protocol: list, get, create, replace, delete, capabilities.

Every backend speaks canonical ``RouteSpec`` / ``LiveRoute`` values and raises only the
errors of ``reconciler.errors`` (translated at its own edge):

- ``create_route`` raises ``ConflictError`` when the route exists already;
- ``replace_route`` / ``delete_route`` raise ``NotFoundError`` when it does not exist and
  ``ConflictError`` when ``expected_version`` is given and does not match;
- ``TransientBackendError`` for failures worth retrying (the applier retries them).

A backend whose capabilities say ``batch_writes`` also implements ``write_batch`` (the
``BatchWriter`` protocol): many writes in one request, where one request costs as much as
many (Caddy reloads its whole config per write).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from reconciler.errors import RoutesError
from reconciler.model import LiveRoute, RouteSpec

__all__ = [
    "Backend",
    "BaseBackend",
    "BatchWriter",
    "Capabilities",
    "StoreIdentity",
    "Write",
    "WriteOutcome",
    "send",
]


@dataclass(frozen=True)
class Capabilities:
    labels: bool = True  # stores labels and annotations (else ownership comes from scope)
    conditional_writes: bool = True  # honours expected_version atomically
    batch_writes: bool = False  # implements BatchWriter.write_batch
    batch_size: int | None = None  # routes per write_batch the backend prefers; None: a phase
    # get_routes of a batch's names is about one query; where it is not (a listing of every
    # route), a batch's first attempt writes conditional on the plan's versions, unread.
    cheap_batch_reads: bool = True


@dataclass(frozen=True)
class StoreIdentity:
    """Which store a backend reads and writes: where it is (an absolute path or a URL) and
    the random id the store was created with (None where it has none, or none yet)."""

    location: str
    id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"location": self.location, "id": self.id}

    def describe(self) -> str:
        return f"{self.location} (store id {self.id or 'none'})"


@dataclass(frozen=True)
class Write:
    """One write of a batch: the arguments of create_route, replace_route or delete_route."""

    name: str
    kind: Literal["create", "replace", "delete"]
    spec: RouteSpec | None = None  # None for a delete
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    expected_version: str | None = None  # replace/delete only; None = any version


@runtime_checkable
class Backend(Protocol):
    url: str
    capabilities: Capabilities

    def list_routes(self) -> list[LiveRoute]:
        """Every live route, sorted by name."""
        ...

    def get_route(self, name: str) -> LiveRoute | None:
        """One live route, or None when it does not exist."""
        ...

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        """The named routes that exist (batched where the backend can)."""
        ...

    def create_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> LiveRoute:
        """Create a route that must not exist yet."""
        ...

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> LiveRoute:
        """Replace a route's spec, labels and annotations, if its version is as expected."""
        ...

    def delete_route(self, name: str, expected_version: str | None) -> None:
        """Delete a route, if its version is as expected."""
        ...

    def check_spec(self, name: str, spec: RouteSpec) -> list[str]:
        """Problems that keep this backend from enforcing ``spec`` faithfully (plan errors)."""
        ...

    def unregistered_hosts(self, hosts: Iterable[str]) -> set[str]:
        """Hosts a route could not be Ready on (the backend requires registered hostnames)."""
        ...

    def identity(self) -> StoreIdentity:
        """The store this backend writes to, resolved (a saved plan applies only there)."""
        ...

    def hostname_advice(self, host: str) -> str:
        """What to do about a host ``unregistered_hosts`` named, in this backend's terms."""
        ...

    def write_notes(self, name: str, spec: RouteSpec) -> list[str]:
        """What a reviewer should know about how this backend writes the route (e.g. where
        the Akka CLI creates it); shown in the plan as information."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


# What one write of a batch came to: the new route, None for a delete, or that write's error.
WriteOutcome = LiveRoute | RoutesError | None


@runtime_checkable
class BatchWriter(Protocol):
    def write_batch(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        """Perform ``writes``; one entry per write, in order, for each write on its own.

        An entry is the new ``LiveRoute`` (create, replace), ``None`` (a delete that
        succeeded) or the error that write alone met (``ConflictError``, ``NotFoundError``,
        ``InvalidSpecError``, ``BackendError``), as the single-route method would raise it.
        Raises ``TransientBackendError`` when the backend could not be reached or asked to
        try later: the caller retries the whole batch.
        """
        ...


class BaseBackend:
    """Shared defaults: ``get_routes`` over ``get_route`` and a no-op ``close``."""

    url: str = ""
    capabilities: Capabilities = Capabilities()

    def get_route(self, name: str) -> LiveRoute | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        found: dict[str, LiveRoute] = {}
        for name in names:
            route = self.get_route(name)
            if route is not None:
                found[name] = route
        return found

    def check_spec(self, name: str, spec: RouteSpec) -> list[str]:
        return []

    def unregistered_hosts(self, hosts: Iterable[str]) -> set[str]:
        """Hosts a route could not be Ready on (the backend requires registered hostnames)."""
        return set()

    def identity(self) -> StoreIdentity:
        """Where the backend has no store id, its URL alone names what it writes to."""
        return StoreIdentity(self.url)

    def hostname_advice(self, host: str) -> str:
        """What to do about a host that is not registered (the control-plane API's way)."""
        return "register it (POST /v1/hostnames) before applying"

    def write_notes(self, name: str, spec: RouteSpec) -> list[str]:
        return []

    def ready_to_write(self) -> None:
        """Called once before an apply's first write: a backend whose capabilities depend on
        the server (the http backend's batch endpoint) finds out here."""
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> BaseBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send(backend: Backend, write: Write) -> LiveRoute | None:
    """Perform one write with the backend's single-route methods."""
    if write.kind == "delete":
        backend.delete_route(write.name, expected_version=write.expected_version)
        return None
    assert write.spec is not None
    if write.kind == "create":
        return backend.create_route(write.name, write.spec, write.labels, write.annotations)
    return backend.replace_route(
        write.name, write.spec, write.labels, write.annotations, write.expected_version
    )
