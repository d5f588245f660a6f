"""The ``http://`` / ``https://`` backend: the route control-plane API of DESIGN §8.

One pooled ``httpx.Client`` (injectable, so tests can hand in a ``MockTransport``). Writes
are conditional: create is ``PUT`` with ``If-None-Match: *``, replace and delete carry
``If-Match: "<version>"``. HTTP failures become ``reconciler.errors`` here, at the edge; the
applier does the retrying, so this module never retries. The bearer token is sent and
nothing else: it never appears in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from reconciler.backends.base import BaseBackend, Capabilities
from reconciler.backends.http.errors import error_code, raise_for, transport_error
from reconciler.errors import BackendError, ConfigError, UsageError
from reconciler.model import Condition, LiveRoute, RouteSpec

if TYPE_CHECKING:
    from reconciler.config import Settings

PAGE_SIZE = 1000
FETCH_EACH_LIMIT = 20  # up to this many names: one GET each; more: list and filter
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=32)


class HttpBackend(BaseBackend):
    """Routes over the control-plane REST API."""

    capabilities = Capabilities(labels=True, conditional_writes=True, granular_paths=False)

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        ca_bundle: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = _without_userinfo(base_url.rstrip("/"))
        self._base = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._owns_client = client is None
        self._client = client or httpx.Client(
            verify=_verify(ca_bundle), timeout=TIMEOUT, limits=LIMITS, follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"HttpBackend({self.url!r})"

    # -- reads ----------------------------------------------------------------------------

    def list_routes(self) -> list[LiveRoute]:
        """Every route, sorted by name, following ``nextPageToken`` to the end."""
        return sorted(self._pages(), key=lambda route: route.name)

    def get_route(self, name: str) -> LiveRoute | None:
        """One route, or None."""
        response = self._send("GET", _route_path(name), f"read route {name!r}")
        if response.status_code == 404 and error_code(response) == "route_not_found":
            return None
        raise_for(response, self.url, f"read route {name!r}")
        return _live_route(self._json(response), self.url)

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        """The named routes that exist: one GET each for a few, one listing for many."""
        wanted = set(names)
        if len(wanted) <= FETCH_EACH_LIMIT:
            return super().get_routes(sorted(wanted))
        return {route.name: route for route in self._pages() if route.name in wanted}

    # -- writes ---------------------------------------------------------------------------

    def create_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> LiveRoute:
        """Create a route that must not exist yet (``If-None-Match: *``)."""
        body = _body(spec, labels, annotations)
        return self._put(name, body, {"If-None-Match": "*"}, f"create route {name!r}")

    def replace_route(
        self,
        name: str,
        spec: RouteSpec,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        expected_version: str | None,
    ) -> LiveRoute:
        """Replace an existing route, if at ``expected_version`` (``If-Match``)."""
        doing = f"replace route {name!r}"
        if_match = f'"{expected_version}"' if expected_version is not None else "*"
        return self._put(name, _body(spec, labels, annotations), {"If-Match": if_match}, doing)

    def delete_route(self, name: str, expected_version: str | None) -> None:
        """Delete a route, if at ``expected_version`` (``If-Match``)."""
        headers = {"If-Match": f'"{expected_version}"'} if expected_version is not None else {}
        doing = f"delete route {name!r}"
        response = self._send("DELETE", _route_path(name), doing, headers=headers)
        raise_for(response, self.url, doing)

    def unregistered_hosts(self, hosts: Iterable[str]) -> set[str]:
        """In the server's ``registered`` mode, the hosts that are not registered hostnames."""
        wanted = set(hosts)
        if not wanted:
            return set()
        response = self._send("GET", "/v1/hostnames", "list hostnames")
        raise_for(response, self.url, "list hostnames")
        page = self._json(response)
        if not isinstance(page, dict) or page.get("mode") != "registered":
            return set()
        registered = {str(item.get("hostname")) for item in page.get("items") or ()}
        return wanted - registered

    def close(self) -> None:
        """Close the connection pool (unless the client was handed in)."""
        if self._owns_client:
            self._client.close()

    # -- internals ------------------------------------------------------------------------

    def _put(
        self, name: str, body: dict[str, Any], headers: dict[str, str], doing: str
    ) -> LiveRoute:
        response = self._send("PUT", _route_path(name), doing, headers=headers, body=body)
        raise_for(response, self.url, doing)
        return _live_route(self._json(response), self.url)

    def _pages(self) -> Iterator[LiveRoute]:
        token: str | None = None
        while True:
            params = {"pageSize": str(PAGE_SIZE)}
            if token:
                params["pageToken"] = token
            response = self._send("GET", "/v1/routes", "list routes", params=params)
            raise_for(response, self.url, "list routes")
            page = self._json(response)
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise self._malformed("list routes", "no `items` list")
            for item in items:
                yield _live_route(item, self.url)
            token = page.get("nextPageToken")
            if not token:
                return

    def _send(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        all_headers = {**self._headers, **(headers or {})}
        content = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        try:
            return self._client.request(
                method, self._base + path, headers=all_headers, params=params, content=content
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.url, doing) from exc

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise self._malformed(
                f"{response.request.method} {response.url.path}", "not JSON"
            ) from exc

    def _malformed(self, doing: str, why: str) -> BackendError:
        return BackendError(
            f"{self.url} answered {doing} with something that is not the routes API ({why})",
            hint="check that --backend points at `routes serve` or a compatible control plane",
        )


def open_http(url: str, settings: Settings | None = None) -> HttpBackend:
    """The http(s) backend for ``url``, with ``ROUTES_TOKEN`` and ``ROUTES_CA_BUNDLE``."""
    if not httpx.URL(url).host:
        raise UsageError(
            f"backend URL {_without_userinfo(url)!r} names no host",
            hint="use http://HOST:PORT or https://HOST:PORT, e.g. http://127.0.0.1:8900",
        )
    if "@" in urlsplit(url).netloc:
        # Credentials in a URL end up in shell history and CI logs, and httpx would send them
        # as Basic auth in place of the bearer token.
        raise UsageError(
            f"backend URL {_without_userinfo(url)!r} carries credentials",
            hint="drop `user:password@` from the URL and put the token in ROUTES_TOKEN",
        )
    token = settings.token if settings is not None else None
    ca_bundle = settings.ca_bundle if settings is not None else None
    if ca_bundle and settings is not None:
        ca_bundle = str(settings.resolve(ca_bundle))
    return HttpBackend(url, token=token, ca_bundle=ca_bundle)


def _verify(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """Verification on by default; ``ca_bundle`` (ROUTES_CA_BUNDLE) trusts a private CA."""
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot read the CA bundle {ca_bundle} (ROUTES_CA_BUNDLE): "
            f"{getattr(exc, 'strerror', None) or exc}",
            hint="point ROUTES_CA_BUNDLE at a PEM file holding the CA certificate(s)",
        ) from exc


def _route_path(name: str) -> str:
    return "/v1/routes/" + quote(name, safe="")


def _body(
    spec: RouteSpec, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> dict[str, Any]:
    return {"spec": spec.to_dict(), "labels": dict(labels), "annotations": dict(annotations)}


def _live_route(raw: Any, url: str) -> LiveRoute:
    try:
        status = raw.get("status") or {}
        return LiveRoute(
            name=str(raw["name"]),
            spec=RouteSpec.from_dict(raw["spec"]),
            version=str(raw["version"]),
            labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
            annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
            conditions=tuple(Condition.from_dict(c) for c in status.get("conditions") or ()),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BackendError(
            f"{url} answered with a route that cannot be read ({type(exc).__name__}: {exc})",
            hint="check that --backend points at `routes serve` or a compatible control plane",
        ) from exc


def _without_userinfo(url: str) -> str:
    """``url`` without ``user:password@``, so credentials never reach a message."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
