"""The route control-plane API (schemas/openapi.yaml) as a Starlette app over a ``RouteStore``.

Handlers are thin: parse and check the request (``wire``), call the store in a worker
thread (SQLite and psycopg block), and answer JSON. Every error leaves as ``{"error": {…}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import (
    ConflictError,
    NotFoundError,
    RoutesError,
    TransientBackendError,
)
from reconciler.server.accesslog import AccessLog
from reconciler.server.auth import OPEN_PATHS, BearerAuth
from reconciler.server.batch import MAX_BATCH_BODY, batch_items, batch_results
from reconciler.server.ratelimit import RateLimit, TokenBuckets
from reconciler.server.wire import (
    MAX_BODY,
    ApiError,
    check_hostname,
    check_route_name,
    decode_page_token,
    encode_page_token,
    etag,
    etags_of,
    hostname_json,
    hostname_of,
    if_match_version,
    is_weak,
    page_size_of,
    parse_json,
    route_json,
    route_write,
)
from reconciler.store import RouteStore

T = TypeVar("T")
LOGGER = logging.getLogger("reconciler.server")


def create_app(
    store: RouteStore,
    token: str | None = None,
    rate_limit: float | None = None,
    *,
    access_log: bool = True,
    max_body: int = MAX_BODY,
    max_batch_body: int = MAX_BATCH_BODY,
    clock: Callable[[], float] | None = None,
) -> Starlette:
    """The API app; ``token`` turns on bearer auth, ``rate_limit`` a per-client limit/s."""
    api = _Api(store, max_body, max_batch_body)
    # One Route per path, so a 405 lists every method the path allows.
    routes = [
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/v1/store", api.store_identity, methods=["GET"]),
        Route("/v1/routes", api.list_routes, methods=["GET"]),
        Route("/v1/routes:batchWrite", api.batch_write, methods=["POST"]),
        Route("/v1/routes/{name}", api.route, methods=["GET", "PUT", "DELETE"]),
        Route("/v1/hostnames", api.hostnames, methods=["GET", "POST"]),
        Route("/v1/hostnames/{hostname}", api.remove_hostname, methods=["DELETE"]),
    ]
    middleware: list[Middleware] = []
    if access_log:
        middleware.append(Middleware(AccessLog))
    if rate_limit is not None:
        buckets = TokenBuckets(rate_limit, clock=clock) if clock else TokenBuckets(rate_limit)
        middleware.append(Middleware(RateLimit, buckets=buckets, exempt=OPEN_PATHS))
    if token is not None:
        middleware.append(Middleware(BearerAuth, token=token))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            RoutesError: _store_error,
            Exception: _internal_error,
        },
    )
    # A trailing slash answers a JSON 404 that says so: a bare 307 is not the API's JSON,
    # and a client that follows it sends a PUT body twice.
    app.router.redirect_slashes = False
    return app


class _Api:
    def __init__(self, store: RouteStore, max_body: int, max_batch_body: int) -> None:
        self.store = store
        self.max_body = max_body
        self.max_batch_body = max_batch_body

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def store_identity(self, request: Request) -> Response:
        """The id the store was created with: a saved plan names it, so it applies only here."""
        found = await _run(lambda: self.store.store_id or self.store.ensure_store())
        return JSONResponse({"id": found})

    async def list_routes(self, request: Request) -> Response:
        size = page_size_of(request.query_params.get("pageSize"))
        after = decode_page_token(request.query_params.get("pageToken"))
        routes, last = await _run(self.store.list_page, size, after)
        return JSONResponse(
            {
                "items": [route_json(route) for route in routes],
                "nextPageToken": encode_page_token(last) if last else None,
            }
        )

    async def route(self, request: Request) -> Response:
        if request.method == "PUT":
            return await self.put_route(request)
        if request.method == "DELETE":
            return await self.delete_route(request)
        return await self.get_route(request)

    async def hostnames(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.add_hostname(request)
        return await self.list_hostnames(request)

    async def get_route(self, request: Request) -> Response:
        name = check_route_name(request.path_params["name"])
        route = await _run(self.store.get_route, name)
        if route is None:
            raise _route_not_found(name)
        tag = etag(route.version)
        wanted = request.headers.get("if-none-match")
        if wanted is not None and etags_of(wanted) & {route.version, "*"}:
            return Response(status_code=304, headers={"ETag": tag})
        return JSONResponse(route_json(route), headers={"ETag": tag})

    async def put_route(self, request: Request) -> Response:
        name = check_route_name(request.path_params["name"])
        expected = if_match_version(request.headers.get("if-match"))
        none_match = request.headers.get("if-none-match")
        if none_match is not None and none_match.strip() != "*":
            raise ApiError(400, "invalid_header", "PUT accepts only If-None-Match: *")
        if none_match is not None and expected is not None:
            raise ApiError(400, "invalid_header", "send If-Match or If-None-Match, not both")
        write = route_write(await self._json_body(request))
        try:
            route, created = await _run(
                self.store.put_route,
                name,
                write.spec,
                write.labels,
                write.annotations,
                expected_version=expected,
                must_not_exist=none_match is not None,
            )
        except ConflictError:
            raise await self._precondition_failed(name, expected) from None
        headers = {"ETag": etag(route.version)}
        if created:
            headers["Location"] = f"/v1/routes/{name}"
        return JSONResponse(route_json(route), 201 if created else 200, headers=headers)

    async def delete_route(self, request: Request) -> Response:
        name = check_route_name(request.path_params["name"])
        expected = if_match_version(request.headers.get("if-match"))
        none_match = request.headers.get("if-none-match")
        if none_match is not None:
            if expected is not None:
                raise ApiError(400, "invalid_header", "send If-Match or If-None-Match, not both")
            expected = await self._version_not_matching(name, none_match)
        try:
            await _run(self.store.delete_route, name, expected)
        except NotFoundError:
            raise _route_not_found(name) from None
        except ConflictError:
            raise await self._precondition_failed(name, expected) from None
        return Response(status_code=204)

    async def batch_write(self, request: Request) -> Response:
        """Many PUTs and DELETEs in one store transaction, answered one by one, in order."""
        items = batch_items(await self._json_body(request, self.max_batch_body))
        writes = [item.write for item in items if item.write is not None]
        outcomes = await _run(self.store.write_routes, writes) if writes else []
        by_name = {write.name: outcome for write, outcome in zip(writes, outcomes, strict=True)}
        refused = [name for name, outcome in by_name.items() if isinstance(outcome, RoutesError)]
        current = await _run(self.store.get_routes, refused) if refused else {}
        return JSONResponse({"results": batch_results(items, by_name, current)})

    async def list_hostnames(self, request: Request) -> Response:
        hostnames = await _run(self.store.list_hostnames)
        mode = await _run(self.store.hostname_mode)
        return JSONResponse({"items": [hostname_json(h) for h in hostnames], "mode": mode})

    async def add_hostname(self, request: Request) -> Response:
        host = hostname_of(await self._json_body(request))
        try:
            added = await _run(self.store.add_hostname, host)
        except ConflictError:
            raise ApiError(
                409, "hostname_exists", f"hostname {host!r} is registered already"
            ) from None
        headers = {"Location": f"/v1/hostnames/{host}"}
        return JSONResponse(hostname_json(added), 201, headers=headers)

    async def remove_hostname(self, request: Request) -> Response:
        host = check_hostname(request.path_params["hostname"])
        try:
            await _run(self.store.remove_hostname, host)
        except NotFoundError:
            raise ApiError(
                404, "hostname_not_found", f"hostname {host!r} is not registered"
            ) from None
        return Response(status_code=204)

    async def _json_body(self, request: Request, limit: int | None = None) -> Any:
        max_body = limit or self.max_body
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise ApiError(
                415,
                "unsupported_media_type",
                f"send the body as JSON with Content-Type: application/json (got {media!r})",
            )
        too_large = ApiError(
            413, "payload_too_large", f"request bodies are limited to {max_body} bytes"
        )
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ApiError(400, "invalid_header", "Content-Length must be a whole number")
            if int(declared) > max_body:
                raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:  # a chunked body declares no length: count it
                    raise too_large
                chunks.append(chunk)
        except ClientDisconnect:
            # Nobody will read the answer; an ApiError keeps a traceback out of the log.
            raise ApiError(400, "client_disconnected", "the client left mid-body") from None
        return parse_json(b"".join(chunks))

    async def _version_not_matching(self, name: str, none_match: str) -> str:
        """The version to delete at, when the route's tag is not in ``If-None-Match``."""
        current = await _run(self.store.get_route, name)
        if current is None:
            raise _route_not_found(name)
        if etags_of(none_match) & {current.version, "*"}:
            raise await self._precondition_failed(name, None)
        return current.version  # a write between this read and the delete answers 412

    async def _precondition_failed(self, name: str, expected: str | None) -> ApiError:
        current = await _run(self.store.get_route, name)
        version = current.version if current else None
        if current is None:
            message = f"route {name!r} does not exist, so If-Match cannot be met"
        elif expected is None:
            message = f"route {name!r} already exists at version {version} (If-None-Match)"
        elif is_weak(expected):
            message = (
                f"If-Match needs a strong entity tag: {expected} never matches "
                f"(route {name!r} is at version {version})"
            )
        else:
            message = f"route {name!r} is at version {version}, not {expected}"
        return ApiError(412, "precondition_failed", message, [{"currentVersion": version}])


async def _run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(partial(func, *args, **kwargs))


def _route_not_found(name: str) -> ApiError:
    return ApiError(404, "route_not_found", f"route {name!r} does not exist")


def _json_error(error: ApiError) -> Response:
    return JSONResponse(error.body(), error.status, headers=dict(error.headers))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _json_error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        path = request.url.path
        hint = " (drop the trailing slash)" if path.endswith("/") and path != "/" else ""
        error = ApiError(404, "not_found", f"no such endpoint: {path}{hint}")
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error = ApiError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})",
            headers={"Allow": allowed},
        )
    else:
        error = ApiError(exc.status_code, "http_error", exc.detail)
    return _json_error(error)


async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoutesError)
    LOGGER.warning("store error on %s %s: %s", request.method, request.url.path, exc.message)
    if isinstance(exc, TransientBackendError):
        error = ApiError(
            503,
            "unavailable",
            f"the route store is busy: {exc.message}",
            headers={"Retry-After": "1"},
        )
    else:
        error = ApiError(500, "store_error", exc.message)
    return _json_error(error)


async def _internal_error(request: Request, exc: Exception) -> Response:
    LOGGER.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json_error(ApiError(500, "internal", "internal server error: see the server log"))
