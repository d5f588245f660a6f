"""The ``caddy+http://HOST:PORT`` backend: routes served for real by Caddy (docs/caddy.md).

Every write reads ``/config/apps``, edits the route (and its TLS parts) in that tree and posts
the tree back with ``If-Match: "/config/apps <fnv32a>"``, the ETag Caddy 2.6 computes over
the body it returned. Caddy checks it under its config lock, so a concurrent editor's change
is never lost: we get 412, read again and re-check the route's own version.

``write_batch`` does the same for many routes in one config load: a reload costs about as
much for one route as for thousands, so an apply loads the config once per phase. Reads and
edits go through one index of the tree (``apps.CaddyApps``), so their cost grows linearly.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from reconciler.backends.base import BaseBackend, Capabilities, Write, WriteOutcome
from reconciler.backends.caddy.admin import (
    fnv32a,
    foreign_config,
    raise_for_admin_error,
    refused,
    request,
)
from reconciler.backends.caddy.apps import CaddyApps, caddy_routes
from reconciler.backends.caddy.checks import check_route
from reconciler.backends.caddy.mapping import (
    ID_PREFIX,
    host_of,
    labels_of,
    route_to_caddy,
    written_by_routes,
)
from reconciler.backends.options import CaddyOptions
from reconciler.errors import (
    BackendError,
    ConflictError,
    InvalidSpecError,
    NotFoundError,
    RoutesError,
    TransientBackendError,
)
from reconciler.gcpause import gc_paused
from reconciler.model import Condition, LiveRoute, RouteSpec, digest_of
from reconciler.retry import retry_transient

APPS = "/config/apps"
_MAX_RACES = 20  # lost If-Match races against other writers before we give up


def open_caddy(url: str, options: CaddyOptions | None = None) -> CaddyBackend:
    """The backend for ``caddy+http://HOST:PORT``, with the ``caddy:`` settings as options."""
    admin_url = url.split("+", 1)[1] if "+" in url else url
    if not admin_url.startswith(("http://", "https://")):
        raise BackendError(
            f"bad Caddy backend URL {url!r}",
            hint="write it as caddy+http://HOST:PORT (the Caddy admin API address)",
        )
    return CaddyBackend(admin_url, options or CaddyOptions())


class CaddyBackend(BaseBackend):
    """Routes as Caddy routes; ownership and provenance live in the Caddy config itself."""

    capabilities = Capabilities(labels=True, conditional_writes=True, batch_writes=True)

    def __init__(
        self, admin_url: str, options: CaddyOptions, client: httpx.Client | None = None
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.url = "caddy+" + self.admin_url
        self.options = options
        self._own_client = client is None
        self._client = client or httpx.Client(base_url=self.admin_url, timeout=30.0)
        # Caddy serialises config loads anyway; racing our own threads only adds 412 retries.
        self._write_lock = threading.Lock()

    def list_routes(self) -> list[LiveRoute]:
        """Every route on the http app's servers, sorted by name; others' routes unlabelled."""
        found: dict[str, LiveRoute] = {}
        with gc_paused(), foreign_config(self.admin_url):
            apps = self._read()[0]
            for server, index, route in caddy_routes(apps.tree):
                live = self._live(apps, server, index, route)
                if live is not None:
                    found.setdefault(live.name, live)
        return [found[name] for name in sorted(found)]

    def get_route(self, name: str) -> LiveRoute | None:
        """One route, or None."""
        with foreign_config(self.admin_url):
            apps = self._read()[0]
            found = apps.find(name)
            return self._live(apps, *found) if found else None

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        """The named routes that exist, from one read of the config."""
        live: dict[str, LiveRoute] = {}
        with gc_paused(), foreign_config(self.admin_url):
            apps = self._read()[0]
            for name in names:
                found = apps.find(name)
                route = self._live(apps, *found) if found else None
                if route is not None:
                    live[name] = route
        return live

    def check_spec(self, name: str, spec: RouteSpec) -> list[str]:
        """What Caddy cannot enforce faithfully in ``spec``: each is a plan error."""
        return check_route(name, spec, self.options)

    def create_route(
        self, name: str, spec: RouteSpec, labels: Mapping[str, str], annotations: Mapping[str, str]
    ) -> LiveRoute:
        """Create a route; ``ConflictError`` when a route with its ``@id`` exists."""
        return self._write_one(Write(name, "create", spec, labels, annotations))

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> LiveRoute:
        """Replace a route if its version is ``expected_version`` (any version when None)."""
        return self._write_one(Write(name, "replace", spec, labels, annotations, expected_version))

    def delete_route(self, name: str, expected_version: str | None) -> None:
        """Delete a route if its version is ``expected_version`` (any version when None)."""
        self._write_one(Write(name, "delete", expected_version=expected_version))

    def write_batch(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        """All ``writes`` in one conditional config load (see ``BatchWriter``)."""
        # gc_paused: a config of thousands of routes is millions of objects, and no cycles
        with self._write_lock, gc_paused(), foreign_config(self.admin_url):
            return self._load(writes)

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def _refusal(self, write: Write) -> InvalidSpecError | None:
        problems = self.check_spec(write.name, write.spec) if write.spec is not None else []
        if not problems:
            return None
        return InvalidSpecError(
            f"route {write.name!r} cannot be served faithfully by Caddy: {'; '.join(problems)}",
            hint="see docs/caddy.md for what the Caddy backend supports",
            details=[{"route": write.name, "message": p} for p in problems],
        )

    def _check_version(self, apps: CaddyApps, name: str, expected: str | None) -> None:
        found = apps.find(name)
        if found is None:
            raise NotFoundError(
                f"route {name!r} does not exist on {self.url}",
                hint="plan again to see the live routes",
            )
        version = _version(apps, name)
        if expected is not None and version != expected:
            raise ConflictError(
                f"route {name!r} on {self.url} is at version {version}, not {expected}",
                hint="someone else changed it: plan again",
            )

    def _write_one(self, write: Write) -> LiveRoute:
        with self._write_lock, foreign_config(self.admin_url):
            outcome = self._load([write])[0]
        if isinstance(outcome, RoutesError):
            raise outcome
        return outcome or LiveRoute(name=write.name, spec=RouteSpec(host="", paths=()), version="")

    def _load(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        """Edit the config for every write that can be done and post it once, If-Match."""
        refusals: list[RoutesError | None] = [self._refusal(write) for write in writes]
        if all(refusals):
            return list(refusals)
        for _ in range(_MAX_RACES):
            apps, etag = self._read(with_etag=True)
            # Each edit sees the ones before it, as if the writes were made one by one.
            errors = [
                error or self._edit(apps, w) for w, error in zip(writes, refusals, strict=True)
            ]
            accepted = [w for w, error in zip(writes, errors, strict=True) if error is None]
            if not accepted:
                return list(errors)
            response = request(
                self._client,
                self.admin_url,
                "POST",
                APPS,
                content=json.dumps(apps.finish(), separators=(",", ":")).encode("utf-8"),
                headers={"Content-Type": "application/json", "If-Match": etag},
            )
            if response.status_code == 412:
                continue  # someone else changed the config: read it again, check again
            if refused(response) and len(accepted) > 1:
                # Caddy refused the whole config without naming the route: halve until it can.
                half = len(writes) // 2
                return self._load(writes[:half]) + self._load(writes[half:])
            try:
                raise_for_admin_error(
                    response, self.admin_url, accepted[0].name if len(accepted) == 1 else None
                )
            except InvalidSpecError as exc:
                return [error or exc for error in errors]
            # What we posted is what Caddy now serves: no need to read it back.
            return [
                error or self._written(apps, w) for w, error in zip(writes, errors, strict=True)
            ]
        names = ", ".join(repr(w.name) for w in writes[:3]) + (" ..." if len(writes) > 3 else "")
        raise TransientBackendError(
            f"the Caddy config on {self.admin_url} kept changing while writing {names}",
            hint="another client is editing Caddy's config: try again",
        )

    def _edit(self, apps: CaddyApps, write: Write) -> RoutesError | None:
        """Apply one write to the config tree; its error leaves the tree untouched."""
        name = write.name
        try:
            if write.kind == "create" and apps.find(name) is not None:
                raise ConflictError(
                    f"route {name!r} already exists on {self.url}",
                    hint="plan again to see the live route",
                )
            if write.kind != "create":
                self._check_version(apps, name, write.expected_version)
        except RoutesError as exc:
            return exc
        if write.kind != "create":
            apps.remove(name)
        if write.spec is not None and write.kind != "delete":
            labels, annotations = write.labels, write.annotations
            # 64 random bits: a re-created route never gets an old version back
            revision = uuid.uuid4().hex[:16]
            route = route_to_caddy(name, write.spec, labels, annotations, self.options, revision)
            apps.add(name, write.spec, route)
        return None

    def _written(self, apps: CaddyApps, write: Write) -> LiveRoute | None:
        if write.kind == "delete":
            return None
        found = apps.find(write.name)
        live = self._live(apps, *found) if found else None
        return live or LiveRoute(name=write.name, spec=RouteSpec(host="", paths=()), version="")

    def _read(self, *, with_etag: bool = False) -> tuple[CaddyApps, str]:
        # Caddy restarts its admin server after each load, and may reset a connection made
        # while it does: a read is safe to repeat.
        response = retry_transient(lambda: request(self._client, self.admin_url, "GET", APPS))
        raise_for_admin_error(response, self.admin_url, None)
        parsed = response.json() if response.content.strip() != b"null" else None
        apps = CaddyApps(parsed if isinstance(parsed, dict) else {}, self.options)
        etag = f'"{APPS} {fnv32a(response.content)}"' if with_etag else ""
        return apps, etag

    def _live(
        self, apps: CaddyApps, server: str, index: int, route: dict[str, Any]
    ) -> LiveRoute | None:
        route_id = str(route.get("@id", ""))
        host = host_of(route)
        if written_by_routes(route):
            name = route_id.removeprefix(ID_PREFIX)
            labels, annotations = labels_of(route)
            spec = apps.spec_of(name, route)
            return LiveRoute(
                name, spec, _version(apps, name), labels, annotations, _serving(server)
            )
        if host is None:
            return None  # catch-alls and other host-less routes are not route descriptors
        name = route_id.removeprefix(ID_PREFIX) if route_id else f"caddy-{server}-{index}"
        spec = RouteSpec(host=host, paths=())
        return LiveRoute(name, spec, digest_of(route)[7:23], {}, {}, _serving(server))


def _version(apps: CaddyApps, name: str) -> str:
    return digest_of(apps.parts_of(name))[7:23]


def _serving(server: str) -> tuple[Condition, ...]:
    # A route in Caddy's active config is being served: Caddy loads a config whole or not at all.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        Condition(
            "HostValidation", "True", "HostAccepted", f"served by Caddy server {server}", now
        ),
        Condition("Ready", "True", "RouteServed", f"served by Caddy server {server}", now),
    )
