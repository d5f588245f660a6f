"""An in-process backend for tests (``memory:``): a dict behind a lock, nothing persisted."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from reconciler.backends.base import BaseBackend, Capabilities, StoreIdentity
from reconciler.errors import ConflictError, NotFoundError
from reconciler.model import Condition, LiveRoute, RouteSpec


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready_conditions(when: str) -> tuple[Condition, ...]:
    return (
        Condition("HostValidation", "True", "HostValidated", "host accepted", when),
        Condition("Ready", "True", "RouteReady", "route is serving", when),
    )


class MemoryBackend(BaseBackend):
    """Routes in a dict. Versions come from a counter that is never reused, so a route
    deleted and created again gets a new version and a stale If-Match cannot match it."""

    capabilities = Capabilities(labels=True, conditional_writes=True)

    def __init__(self, url: str = "memory:") -> None:
        self.url = url
        self.store_id = str(uuid.uuid4())  # each instance is a store of its own
        self._routes: dict[str, LiveRoute] = {}
        self._lock = threading.Lock()
        self._versions = itertools.count(1)
        self.write_count = 0

    def identity(self) -> StoreIdentity:
        return StoreIdentity(self.url, self.store_id)

    def list_routes(self) -> list[LiveRoute]:
        """Every route, sorted by name."""
        with self._lock:
            return [self._routes[name] for name in sorted(self._routes)]

    def get_route(self, name: str) -> LiveRoute | None:
        """One route, or None."""
        with self._lock:
            return self._routes.get(name)

    def create_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> LiveRoute:
        """Create a route; ``ConflictError`` when it exists."""
        with self._lock:
            if name in self._routes:
                raise ConflictError(
                    f"route {name!r} already exists on {self.url}",
                    hint="plan again to see the live route",
                )
            return self._store(name, spec, labels, annotations)

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> LiveRoute:
        """Replace a route if its version is ``expected_version`` (any version when None)."""
        with self._lock:
            self._check(name, expected_version)
            return self._store(name, spec, labels, annotations)

    def delete_route(self, name: str, expected_version: str | None) -> None:
        """Delete a route if its version is ``expected_version`` (any version when None)."""
        with self._lock:
            self._check(name, expected_version)
            del self._routes[name]
            self.write_count += 1

    def _check(self, name: str, expected_version: str | None) -> None:
        current = self._routes.get(name)
        if current is None:
            raise NotFoundError(
                f"route {name!r} does not exist on {self.url}",
                hint="plan again to see the live routes",
            )
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(
                f"route {name!r} on {self.url} is at version {current.version}, "
                f"not {expected_version}",
                hint="someone else changed it: plan again",
            )

    def _store(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> LiveRoute:
        route = LiveRoute(
            name=name,
            spec=spec,
            version=str(next(self._versions)),
            labels=dict(labels),
            annotations=dict(annotations),
            conditions=_ready_conditions(_now()),
        )
        self._routes[name] = route
        self.write_count += 1
        return route
