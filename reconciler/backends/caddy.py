"""The ``caddy+http://HOST:PORT`` backend: routes served for real by Caddy (docs/caddy.md).

Every write reads ``/config/apps``, edits the route (and its TLS parts) in that tree and posts
the tree back with ``If-Match: "/config/apps <fnv32a>"``, the ETag Caddy 2.6 computes over
the body it returned. Caddy checks it under its config lock, so a concurrent editor's change
is never lost: we get 412, read again and re-check the route's own version.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from reconciler.backends import caddy_apps
from reconciler.backends.base import BaseBackend, Capabilities
from reconciler.backends.caddy_checks import check_route, options_from_settings
from reconciler.backends.caddy_mapping import (
    ID_PREFIX,
    CaddyOptions,
    host_of,
    is_owned,
    labels_of,
    route_to_caddy,
)
from reconciler.config import Settings
from reconciler.errors import (
    BackendError,
    ConflictError,
    InvalidSpecError,
    NotFoundError,
    TransientBackendError,
)
from reconciler.model import Condition, LiveRoute, RouteSpec, digest_of

try:  # a C implementation: hashing a 1 MB config in pure Python takes a quarter second
    from fnv_hash_fast import fnv1a_32 as _fast_fnv1a_32
except ImportError:  # pragma: no cover - depends on the environment
    _fast_fnv1a_32 = None  # type: ignore[assignment]

APPS = "/config/apps"
_MAX_RACES = 20  # lost If-Match races against other writers before we give up


def fnv32a(data: bytes) -> str:
    """The hash Caddy's admin API puts in its ETag (FNV-1a, 32 bits, hex)."""
    if _fast_fnv1a_32 is not None:
        return f"{_fast_fnv1a_32(data):08x}"
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


def open_caddy(url: str, settings: Settings | None) -> CaddyBackend:
    """The backend for ``caddy+http://HOST:PORT``, configured from ``settings.caddy``."""
    admin_url = url.split("+", 1)[1] if "+" in url else url
    if not admin_url.startswith(("http://", "https://")):
        raise BackendError(
            f"bad Caddy backend URL {url!r}",
            hint="write it as caddy+http://HOST:PORT (the Caddy admin API address)",
        )
    return CaddyBackend(admin_url, options_from_settings(settings))


class CaddyBackend(BaseBackend):
    """Routes as Caddy routes; ownership and provenance live in the Caddy config itself."""

    capabilities = Capabilities(labels=True, conditional_writes=True, granular_paths=False)

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
        apps = self._read()[0]
        found: dict[str, LiveRoute] = {}
        for server, index, route in caddy_apps.caddy_routes(apps):
            live = self._live(apps, server, index, route)
            if live is not None:
                found.setdefault(live.name, live)
        return [found[name] for name in sorted(found)]

    def get_route(self, name: str) -> LiveRoute | None:
        """One route, or None."""
        apps = self._read()[0]
        found = caddy_apps.find(apps, name)
        return self._live(apps, *found) if found else None

    def check_spec(self, name: str, spec: RouteSpec) -> list[str]:
        """What Caddy cannot enforce faithfully in ``spec``: each is a plan error."""
        return check_route(name, spec, self.options)

    def create_route(
        self, name: str, spec: RouteSpec, labels: Mapping[str, str], annotations: Mapping[str, str]
    ) -> LiveRoute:
        """Create a route; ``ConflictError`` when a route with its ``@id`` exists."""
        self._refuse_unenforceable(name, spec)

        def edit(apps: dict[str, Any]) -> None:
            if caddy_apps.find(apps, name) is not None:
                raise ConflictError(
                    f"route {name!r} already exists on {self.url}",
                    hint="plan again to see the live route",
                )
            route = route_to_caddy(name, spec, labels, annotations, self.options, uuid.uuid4().hex)
            caddy_apps.add(apps, name, spec, route, self.options)

        return self._write(name, edit)

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> LiveRoute:
        """Replace a route if its version is ``expected_version`` (any version when None)."""
        self._refuse_unenforceable(name, spec)

        def edit(apps: dict[str, Any]) -> None:
            self._check_version(apps, name, expected_version)
            caddy_apps.remove(apps, name)
            route = route_to_caddy(name, spec, labels, annotations, self.options, uuid.uuid4().hex)
            caddy_apps.add(apps, name, spec, route, self.options)

        return self._write(name, edit)

    def delete_route(self, name: str, expected_version: str | None) -> None:
        """Delete a route if its version is ``expected_version`` (any version when None)."""

        def edit(apps: dict[str, Any]) -> None:
            self._check_version(apps, name, expected_version)
            caddy_apps.remove(apps, name)

        self._write(name, edit)

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def _refuse_unenforceable(self, name: str, spec: RouteSpec) -> None:
        problems = self.check_spec(name, spec)
        if problems:
            raise InvalidSpecError(
                f"route {name!r} cannot be served faithfully by Caddy: {'; '.join(problems)}",
                hint="see docs/caddy.md for what the Caddy backend supports",
                details=[{"route": name, "message": p} for p in problems],
            )

    def _check_version(self, apps: dict[str, Any], name: str, expected: str | None) -> None:
        found = caddy_apps.find(apps, name)
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

    def _write(self, name: str, edit: Callable[[dict[str, Any]], None]) -> LiveRoute:
        with self._write_lock:
            for _ in range(_MAX_RACES):
                apps, etag = self._read(with_etag=True)
                edit(apps)
                response = self._request(
                    "POST",
                    APPS,
                    content=json.dumps(apps).encode("utf-8"),
                    headers={"Content-Type": "application/json", "If-Match": etag},
                )
                if response.status_code == 412:
                    continue
                self._raise_for(response, name)
                break
            else:
                raise TransientBackendError(
                    f"the Caddy config on {self.admin_url} kept changing while writing {name!r}",
                    hint="another client is editing Caddy's config: try again",
                )
        # What we posted is what Caddy now serves: no need to read it back.
        found = caddy_apps.find(apps, name)
        live = self._live(apps, *found) if found else None
        return live or LiveRoute(name=name, spec=RouteSpec(host="", paths=()), version="")

    def _read(self, *, with_etag: bool = False) -> tuple[dict[str, Any], str]:
        response = self._request("GET", APPS)
        self._raise_for(response, None)
        parsed = response.json() if response.content.strip() != b"null" else None
        apps = parsed if isinstance(parsed, dict) else {}
        etag = f'"{APPS} {fnv32a(response.content)}"' if with_etag else ""
        return apps, etag

    def _live(
        self, apps: dict[str, Any], server: str, index: int, route: dict[str, Any]
    ) -> LiveRoute | None:
        route_id = str(route.get("@id", ""))
        host = host_of(route)
        if is_owned(route):
            name = route_id.removeprefix(ID_PREFIX)
            labels, annotations = labels_of(route)
            spec = caddy_apps.spec_of(apps, name, route, self.options)
            return LiveRoute(
                name, spec, _version(apps, name), labels, annotations, _serving(server)
            )
        if host is None:
            return None  # catch-alls and other host-less routes are not route descriptors
        name = route_id.removeprefix(ID_PREFIX) if route_id else f"caddy-{server}-{index}"
        spec = RouteSpec(host=host, paths=())
        return LiveRoute(name, spec, digest_of(route)[7:23], {}, {}, _serving(server))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # Caddy restarts its admin server on each config load, which resets kept-alive
        # connections: one connection per request avoids writing into a dead socket.
        headers = {**kwargs.pop("headers", {}), "Connection": "close"}
        try:
            return self._client.request(method, path, headers=headers, **kwargs)
        except httpx.ConnectError as exc:
            raise BackendError(
                f"cannot reach the Caddy admin API at {self.admin_url}: {exc}",
                hint="is Caddy running? start it with `caddy run` (admin address in its config)",
            ) from exc
        except httpx.TimeoutException as exc:
            raise TransientBackendError(
                f"the Caddy admin API at {self.admin_url} timed out ({method} {path})"
            ) from exc
        except httpx.HTTPError as exc:
            raise TransientBackendError(
                f"talking to the Caddy admin API at {self.admin_url} failed: {exc}"
            ) from exc

    def _raise_for(self, response: httpx.Response, name: str | None) -> None:
        if response.is_success:
            return
        detail = _error_text(response)
        where = f"{response.request.method} {self.admin_url}{response.request.url.path}"
        if response.status_code == 429 or response.status_code >= 500:
            retry = response.headers.get("Retry-After")
            raise TransientBackendError(
                f"Caddy answered {response.status_code} to {where}: {detail}",
                retry_after=float(retry) if retry and retry.isdigit() else None,
            )
        if response.status_code == 400 and name is not None:
            raise InvalidSpecError(
                f"Caddy refused the config for route {name!r}: {detail}",
                hint="check the caddy: section of .routes.yaml (upstreams, secret files)",
            )
        raise BackendError(f"Caddy answered {response.status_code} to {where}: {detail}")


def _version(apps: dict[str, Any], name: str) -> str:
    return digest_of(caddy_apps.parts_of(apps, name))[7:23]


def _serving(server: str) -> tuple[Condition, ...]:
    # A route in Caddy's active config is being served: Caddy loads a config whole or not at all.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        Condition(
            "HostValidation", "True", "HostAccepted", f"served by Caddy server {server}", now
        ),
        Condition("Ready", "True", "RouteServed", f"served by Caddy server {server}", now),
    )


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500]
    return str(body.get("error", body))[:500] if isinstance(body, dict) else str(body)[:500]
