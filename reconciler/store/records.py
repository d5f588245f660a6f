"""Values the local store hands out: stored routes, hostnames, and route status.

Conditions are computed when a route is read, from the store's hostname mode, so
registering a hostname later makes its routes Ready without rewriting them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from reconciler.model import Condition, LiveRoute, RouteSpec

HOSTNAME_MODES = ("any", "registered")
NOT_REGISTERED = "HostnameNotRegistered"


def utc_now() -> str:
    """The current time as ISO-8601 UTC with a ``Z`` suffix, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StatusContext:
    """What a route's conditions depend on besides the route: the store's hostname mode,
    when it last changed, and the registered hostnames with their registration times."""

    mode: str = "any"
    mode_changed_at: str = ""
    hostnames: Mapping[str, str] = field(default_factory=dict)

    def conditions(self, host: str, updated_at: str) -> tuple[Condition, ...]:
        """``HostValidation`` and ``Ready`` for a route on ``host`` last written at ``updated_at``.

        The transition time is the latest of the events that could have flipped the status,
        so it stays the same across reads.
        """
        since = max(updated_at, self.mode_changed_at)
        if self.mode == "registered":
            registered_at = self.hostnames.get(host)
            if registered_at is None:
                message = (
                    f"host {host!r} is not a registered hostname of this project; register it "
                    f'(POST /v1/hostnames {{"hostname": "{host}"}}) or set the hostname mode '
                    "to 'any'"
                )
                return (
                    Condition("HostValidation", "False", NOT_REGISTERED, message, since),
                    Condition("Ready", "False", NOT_REGISTERED, message, since),
                )
            since = max(since, registered_at)
        return (
            Condition("HostValidation", "True", "HostValidated", f"host {host!r} accepted", since),
            Condition("Ready", "True", "RouteReady", "route is serving", since),
        )


@dataclass(frozen=True)
class StoredRoute:
    """A route as the store holds it, with its timestamps and computed conditions."""

    name: str
    spec: RouteSpec
    version: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    conditions: tuple[Condition, ...] = ()

    def to_live(self) -> LiveRoute:
        """The backend-protocol view of this route."""
        return LiveRoute(
            name=self.name,
            spec=self.spec,
            version=self.version,
            labels=self.labels,
            annotations=self.annotations,
            conditions=self.conditions,
        )


@dataclass(frozen=True)
class RouteWrite:
    """One write of ``SqliteStore.write_routes``: a create (If-None-Match: *), a replace or a
    delete (``expected_version`` is If-Match; None means any version)."""

    name: str
    kind: Literal["create", "replace", "delete"]
    spec: RouteSpec | None = None  # None for a delete
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    expected_version: str | None = None


@dataclass(frozen=True)
class Hostname:
    hostname: str
    created_at: str
