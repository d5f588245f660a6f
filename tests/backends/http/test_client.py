"""The http backend: the shared contract against a real ``routes serve`` on loopback, and
its translation of HTTP answers into errors a user can act on."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.backends.base import Backend
from reconciler.backends.http.client import HttpBackend, open_http
from reconciler.backends.options import HttpOptions
from reconciler.config import Settings
from reconciler.errors import (
    AuthError,
    BackendError,
    ConfigError,
    ConflictError,
    InvalidSpecError,
    NotFoundError,
    TransientBackendError,
    UsageError,
)
from tests.backends.contract import BackendContract, BatchWriterContract, simple_spec
from tests.http_server import RunningServer, running_server

TOKEN = "s3cret-token-value"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("http") / "state.db", token=TOKEN) as running:
        yield running


@pytest.fixture
def empty_server(server: RunningServer) -> RunningServer:
    """The shared server with every route removed (cheaper than a server per test)."""
    for route in server.store.list_routes():
        server.store.delete_route(route.name)
    return server


class TestHttpContract(BackendContract, BatchWriterContract):
    @pytest.fixture
    def backend(self, empty_server: RunningServer) -> Iterator[Backend]:
        backend = HttpBackend(empty_server.url, token=TOKEN)
        yield backend
        backend.close()


# -- translation of HTTP answers (MockTransport: no server needed) ---------------------------

ROUTE = {
    "name": "shop",
    "spec": {"host": "shop.example.com", "routes": [{"prefix": "/", "route": {"service": "c"}}]},
    "labels": {},
    "annotations": {},
    "version": "4",
    "status": {"conditions": []},
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
}


def mocked(
    handler: Callable[[httpx.Request], httpx.Response], token: str | None = TOKEN
) -> HttpBackend:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpBackend("http://control.test:8900", token=token, client=client)


def answering(status: int, body: Any = None, **headers: str) -> HttpBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return mocked(handler)


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def test_401_tells_the_user_to_set_routes_token() -> None:
    backend = answering(401, error_body("unauthorized", "the bearer token was refused"))
    with pytest.raises(AuthError) as caught:
        backend.list_routes()
    assert "the server refused the token" in caught.value.message
    assert "ROUTES_TOKEN" in (caught.value.hint or "")
    assert TOKEN not in str(caught.value) + (caught.value.hint or "") + repr(backend)


def test_412_is_a_conflict_unless_the_route_is_gone() -> None:
    moved = answering(412, error_body("precondition_failed", "at 5", [{"currentVersion": "5"}]))
    with pytest.raises(ConflictError):
        moved.replace_route("shop", simple_spec(), {}, {}, "4")
    gone = answering(412, error_body("precondition_failed", "gone", [{"currentVersion": None}]))
    with pytest.raises(NotFoundError):
        gone.replace_route("shop", simple_spec(), {}, {}, "4")


def test_422_carries_the_spec_problems() -> None:
    details = [{"pointer": "/routes/0/prefix", "message": 'prefix must start with "/"'}]
    backend = answering(422, error_body("invalid_spec", "the route spec is invalid", details))
    with pytest.raises(InvalidSpecError) as caught:
        backend.create_route("shop", simple_spec(), {}, {})
    assert caught.value.details == details
    assert "/routes/0/prefix" in caught.value.message


def test_404_reads_as_absent_and_fails_a_delete() -> None:
    backend = answering(404, error_body("route_not_found", "route 'shop' does not exist"))
    assert backend.get_route("shop") is None
    with pytest.raises(NotFoundError):
        backend.delete_route("shop", "3")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_overload_answers_are_transient_with_retry_after(status: int) -> None:
    backend = answering(status, error_body("rate_limited", "slow down"), **{"Retry-After": "3"})
    with pytest.raises(TransientBackendError) as caught:
        backend.get_route("shop")
    assert caught.value.retry_after == 3.0


def test_timeouts_are_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(TransientBackendError):
        mocked(handler).list_routes()


def test_connection_refused_names_the_url_and_asks_about_routes_serve() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = HttpBackend(f"http://127.0.0.1:{port}", token=TOKEN)
    with pytest.raises(BackendError) as caught:
        backend.list_routes()
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "is `routes serve` running?" in caught.value.message
    assert isinstance(caught.value, TransientBackendError)
    backend.close()


def test_a_url_that_is_not_the_api_root_is_a_clear_error() -> None:
    backend = answering(404, error_body("not_found", "no such endpoint: /api/v1/routes/shop"))
    with pytest.raises(BackendError, match="no such endpoint") as caught:
        backend.get_route("shop")
    assert not isinstance(caught.value, NotFoundError)
    assert "base URL" in (caught.value.hint or "")


def test_answers_that_are_not_the_api_are_clear_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>hello</html>")

    with pytest.raises(BackendError, match="not the routes API"):
        mocked(handler).get_route("shop")


def test_writes_are_conditional_and_carry_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204 if request.method == "DELETE" else 201, json=ROUTE)

    backend = mocked(handler)
    backend.create_route("shop", simple_spec(), {"a": "b"}, {"c": "d"})
    backend.replace_route("shop", simple_spec(), {}, {}, "4")
    backend.replace_route("shop", simple_spec(), {}, {}, None)
    backend.delete_route("shop", "5")
    create, replace, replace_any, delete = seen
    assert create.headers["If-None-Match"] == "*"
    assert json.loads(create.content) == {
        "spec": simple_spec().to_dict(),
        "labels": {"a": "b"},
        "annotations": {"c": "d"},
    }
    assert replace.headers["If-Match"] == '"4"'
    assert replace_any.headers["If-Match"] == "*"
    assert delete.headers["If-Match"] == '"5"'
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in seen)


def test_listing_follows_page_tokens() -> None:
    pages = {
        None: {"items": [{**ROUTE, "name": "b"}], "nextPageToken": "YQ"},
        "YQ": {"items": [{**ROUTE, "name": "c"}], "nextPageToken": None},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["pageSize"] == "1000"
        return httpx.Response(200, json=pages[request.url.params.get("pageToken")])

    assert [r.name for r in mocked(handler).list_routes()] == ["b", "c"]


def test_get_routes_lists_for_many_names_and_gets_for_few() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/v1/routes":
            return httpx.Response(200, json={"items": [ROUTE], "nextPageToken": None})
        if request.url.path == "/v1/routes/shop":
            return httpx.Response(200, json=ROUTE)
        return httpx.Response(404, json=error_body("route_not_found", "no such route"))

    backend = mocked(handler)
    assert set(backend.get_routes(["shop", "other"])) == {"shop"}
    assert paths == ["/v1/routes/other", "/v1/routes/shop"]
    paths.clear()
    many = backend.get_routes([f"r{i}" for i in range(50)] + ["shop"])
    assert set(many) == {"shop"}
    assert paths == ["/v1/routes"]


def test_open_http_refuses_credentials_in_the_url_without_echoing_them(tmp_path: Path) -> None:
    # httpx would send them as Basic auth in place of the bearer token; the token belongs
    # in ROUTES_TOKEN.
    with pytest.raises(UsageError, match="carries credentials") as caught:
        open_http("https://user:pw@control.test", HttpOptions(token=TOKEN))
    assert "pw" not in caught.value.message and "https://control.test" in caught.value.message
    assert "ROUTES_TOKEN" in (caught.value.hint or "")


def test_a_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ROUTES_CA_BUNDLE") as caught:
        open_http(
            "https://control.test",
            Settings(root=tmp_path, ca_bundle="missing-ca.pem").backend_options().http,
        )
    assert "missing-ca.pem" in caught.value.message


def test_the_token_never_reaches_the_logs(
    empty_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        backend = HttpBackend(empty_server.url, token=TOKEN)
        backend.create_route("shop", simple_spec(), {}, {})
        backend.list_routes()
        backend.close()
    assert caplog.records
    assert not any(TOKEN in record.getMessage() for record in caplog.records)


def test_https_to_a_plain_http_server_says_so_not_ca_bundle(server: RunningServer) -> None:
    backend = HttpBackend(server.url.replace("http://", "https://"), token=TOKEN)
    with pytest.raises(BackendError) as caught:
        backend.list_routes()
    backend.close()
    assert "does not speak TLS" in caught.value.message
    assert "ROUTES_CA_BUNDLE" not in (caught.value.hint or "")
    assert not isinstance(caught.value, TransientBackendError)
