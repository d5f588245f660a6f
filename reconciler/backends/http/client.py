"""The ``http://`` / ``https://`` backend: the route control-plane API of schemas/openapi.yaml.

One pooled ``httpx.Client`` (injectable, so tests can hand in a ``MockTransport``). Writes
are conditional: create is ``PUT`` with ``If-None-Match: *``, replace and delete carry
``If-Match: "<version>"``. HTTP failures become ``reconciler.errors`` here, at the edge; the
applier does the retrying, so this module never retries. The bearer token is sent and
nothing else: it never appears in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from reconciler.backends.base import BaseBackend, Capabilities, StoreIdentity, Write, WriteOutcome
from reconciler.backends.http import answers, batch
from reconciler.backends.http.connection import check_url, tls_verification, without_userinfo
from reconciler.backends.http.errors import error_code, raise_for_api_error, transport_error
from reconciler.backends.options import HttpOptions
from reconciler.errors import BackendError, TransientBackendError
from reconciler.model import LiveRoute, RouteSpec
from reconciler.quoting import quote as shown

PAGE_SIZE = 1000
# A listing longer than this is a server that never stops, not a project's routes.
MAX_LISTED_ROUTES = 100_000
MAX_PAGES = 10_000
FETCH_EACH_LIMIT = 20  # up to this many names: one GET each; more: list and filter
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=32)


class HttpBackend(BaseBackend):
    """Routes over the control-plane REST API."""

    # Batches of 50 routes, one request each to the batch endpoint: 50 already spread the
    # server's cost per request thin, and a killed apply loses at most 50 unjournaled
    # results. Reading many routes is a listing of them all, so a batch is first written
    # conditional on the plan's versions and read only if refused. A server without the
    # endpoint is written one route per request, as the applier does for any backend.
    BATCHING = Capabilities(
        labels=True,
        conditional_writes=True,
        batch_writes=True,
        batch_size=50,
        cheap_batch_reads=False,
    )
    PER_ROUTE = Capabilities(labels=True, conditional_writes=True)

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        ca_bundle: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = without_userinfo(base_url.rstrip("/"))
        self._base = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._batch_endpoint: bool | None = None  # None: not asked yet
        self.capabilities = self.BATCHING
        self._owns_client = client is None
        self._client = client or httpx.Client(
            verify=tls_verification(ca_bundle),
            timeout=TIMEOUT,
            limits=LIMITS,
            follow_redirects=False,
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
        raise_for_api_error(response, self.url, f"read route {name!r}")
        return self._named(name, self._json(response))

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
        raise_for_api_error(response, self.url, doing)

    def ready_to_write(self) -> None:
        """Ask once, before the first write, whether the server has the batch endpoint: an
        empty batch writes nothing, and an older server answers it 404 (or 405). When the
        answer says neither (the server is down, say), the first batch asks again."""
        if self._batch_endpoint is not None:
            return
        try:
            response = self._send("POST", batch.PATH, batch.DOING, content=b'{"writes":[]}')
        except TransientBackendError:
            return
        if batch.no_such_endpoint(response):
            self._no_batch_endpoint()
        elif response.status_code == 200:
            self._batch_endpoint = True

    def write_batch(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        """``writes`` through ``POST /v1/routes:batchWrite``, one store transaction per request
        (see ``BatchWriter``). A server that answers the first batch with 404 or 405 has no
        such endpoint: this and every later batch go as one conditional PUT or DELETE each."""
        outcomes: list[WriteOutcome] = []
        for chunk, body in batch.bodies(writes):
            try:
                outcomes += self._write_chunk(chunk, body)
            except TransientBackendError as exc:
                # What the earlier requests wrote stands; the rest is tried again, read first.
                outcomes += [exc] * (len(writes) - len(outcomes))
                break
        return outcomes

    def unregistered_hosts(self, hosts: Iterable[str]) -> set[str]:
        """In the server's ``registered`` mode, the hosts that are not registered hostnames."""
        wanted = set(hosts)
        if not wanted:
            return set()
        response = self._send("GET", "/v1/hostnames", "list hostnames")
        raise_for_api_error(response, self.url, "list hostnames")
        registered = answers.registered_hostnames(self._json(response), self.url)
        return set() if registered is None else wanted - registered

    def identity(self) -> StoreIdentity:
        """The server's URL and its store's id (``GET /v1/store``); a control plane that does
        not serve one (404) is named by its URL alone."""
        response = self._send("GET", "/v1/store", "read the store id")
        if response.status_code in (404, 405):
            return StoreIdentity(self.url)
        raise_for_api_error(response, self.url, "read the store id")
        return StoreIdentity(self.url, answers.store_id(self._json(response), self.url))

    def close(self) -> None:
        """Close the connection pool (unless the client was handed in)."""
        if self._owns_client:
            self._client.close()

    # -- internals ------------------------------------------------------------------------

    def _put(
        self, name: str, body: dict[str, Any], headers: dict[str, str], doing: str
    ) -> LiveRoute:
        response = self._send("PUT", _route_path(name), doing, headers=headers, body=body)
        raise_for_api_error(response, self.url, doing)
        return self._named(name, self._json(response))

    def _write_chunk(self, writes: list[Write], body: bytes) -> list[WriteOutcome]:
        if self._batch_endpoint is False:
            return batch.write_each(self, writes)
        response = self._send("POST", batch.PATH, batch.DOING, content=body)
        if self._batch_endpoint is None and batch.no_such_endpoint(response):
            self._no_batch_endpoint()
            return batch.write_each(self, writes)
        raise_for_api_error(response, self.url, batch.DOING)
        self._batch_endpoint = True
        return batch.outcomes_of(self._json(response), writes, self.url)

    def _no_batch_endpoint(self) -> None:
        self._batch_endpoint = False
        self.capabilities = self.PER_ROUTE  # the applier writes one route per request

    def _named(self, name: str, raw: Any) -> LiveRoute:
        """The route of an answer about route ``name``, which must be that route."""
        route = answers.live_route(raw, self.url)
        if route.name != name:
            raise answers.not_the_api(
                self.url, f"a request for route {shown(name)}", f"route {shown(route.name[:100])}"
            )
        return route

    def _pages(self) -> Iterator[LiveRoute]:
        """Every route of every page, stopping a server whose listing would never end."""
        token: str | None = None
        sent: set[str] = set()
        listed = 0
        for _ in range(MAX_PAGES):
            params = {"pageSize": str(PAGE_SIZE)}
            if token:
                params["pageToken"] = token
            response = self._send("GET", "/v1/routes", "list routes", params=params)
            raise_for_api_error(response, self.url, "list routes")
            items, token = answers.page_of(self._json(response), self.url)
            listed += len(items)
            if listed > MAX_LISTED_ROUTES:
                raise self._endless(f"more than {MAX_LISTED_ROUTES:,} routes")
            for item in items:
                yield answers.live_route(item, self.url)
            if token is None:
                return
            if token in sent:
                raise self._endless(f"a nextPageToken it gave before (page {len(sent) + 1:,})")
            sent.add(token)
        raise self._endless(f"more than {MAX_PAGES:,} pages")

    def _endless(self, what: str) -> BackendError:
        return BackendError(
            f"{self.url} answered list routes with {what}: routes stopped reading, as the "
            "listing would never end",
            hint=f"the server's paging (nextPageToken) is broken: {answers.API_HINT}",
        )

    def _send(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        all_headers = {**self._headers, **(headers or {})}
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode("utf-8")
        if content is not None:
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
        except (ValueError, RecursionError) as exc:
            doing = f"{response.request.method} {response.url.path}"
            raise answers.not_the_api(self.url, doing, "not JSON") from exc


def open_http(url: str, options: HttpOptions | None = None) -> HttpBackend:
    """The http(s) backend for ``url``, with ``ROUTES_TOKEN`` and ``ROUTES_CA_BUNDLE``."""
    check_url(url)
    given = options or HttpOptions()
    return HttpBackend(url, token=given.token, ca_bundle=given.ca_bundle)


def _route_path(name: str) -> str:
    return "/v1/routes/" + quote(name, safe="")


def _body(
    spec: RouteSpec, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> dict[str, Any]:
    return {"spec": spec.to_dict(), "labels": dict(labels), "annotations": dict(annotations)}
