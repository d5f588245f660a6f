"""Hostile answers of an http backend server: refused with a clear ``BackendError``, never
read as something else, never a crash, never an endless listing.

Each test runs a real HTTP server on 127.0.0.1 that answers what a hostile or broken control
plane could; every loop is bounded on the server side too, so a regression fails, not hangs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from reconciler.backends import open_backend
from reconciler.backends.base import Backend
from reconciler.backends.http import client
from reconciler.backends.http.client import HttpBackend
from reconciler.descriptors.spec_check import remember
from reconciler.errors import BackendError
from reconciler.model import RouteSpec
from reconciler.quoting import quote

# (path, query, how many requests came before) -> the JSON answer (bytes: sent as they are)
Answer = Callable[[str, dict[str, str], int], Any]
RULE = {"prefix": "/", "route": {"service": "cart"}}
GOOD = {"host": "shop.example.com", "routes": [RULE]}
BOUND = 60  # requests after which every server below ends its listing, fix or no fix


@dataclass
class Hostile:
    url: str
    seen: list[str] = field(default_factory=list)


@contextmanager
def hostile_server(answer: Answer) -> Iterator[Hostile]:
    """A real HTTP server on loopback whose every answer is ``answer(...)`` with status 200."""
    hostile = Hostile("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            body = answer(parts.path, dict(parse_qsl(parts.query)), len(hostile.seen))
            hostile.seen.append(self.path)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    hostile.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hostile
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


OWNED = {"managed-by": "routes", "routes/owner": "acme/gitops"}


def route(
    name: str = "shop", spec: Any = GOOD, labels: Any = OWNED, **changes: Any
) -> dict[str, Any]:
    """A route as ``routes serve`` answers it, by default claiming that routes wrote it."""
    return {
        "name": name,
        "spec": spec,
        "labels": labels,
        "annotations": {},
        "version": "7",
        "status": {"conditions": []},
        **changes,
    }


def serving(*routes: dict[str, Any]) -> Answer:
    """A server answering ``routes`` as one page and each of them by name."""

    def answer(path: str, query: dict[str, str], count: int) -> Any:
        if path == "/v1/routes":
            return {"items": list(routes), "nextPageToken": None}
        return next(r for r in routes if path == f"/v1/routes/{r['name']}")

    return answer


READS: dict[str, Callable[[Backend], object]] = {
    "list": lambda backend: backend.list_routes(),
    "get": lambda backend: backend.get_route("shop"),
    "get many": lambda backend: backend.get_routes([f"r{i}" for i in range(30)] + ["shop"]),
}


# -- the one spec validation, on the spec as it arrived ----------------------------------


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ({**GOOD, "routes": [RULE, {**RULE, "route": {"service": "admin"}}]}, "R020"),
        ({**GOOD, "routes": [{**RULE, "rewrite": "/evil"}]}, "R013"),
        ({**GOOD, "routes": [{**RULE, "route": {"service": 5}}]}, "R015"),
        ({**GOOD, "routes": [{**RULE, "enableWebsockets": "false"}]}, "R015"),
        ({**GOOD, "rewrite": "/evil"}, "R013"),
        (
            {
                **GOOD,
                "corsPolicy": {"allowOrigins": ["https://a.org"], "allowMethods": ["po\u017ft"]},
            },
            "R024",
        ),
    ],
    ids=[
        "duplicate-prefixes",
        "unknown-rule-field",
        "service-5",
        "websockets-string",
        "top",
        "long-s",
    ],
)
@pytest.mark.parametrize("read", list(READS))
@pytest.mark.parametrize("labels", [OWNED, {}], ids=["owned", "foreign"])
def test_an_error_the_canonical_form_would_hide_is_refused_with_its_code(
    spec: dict[str, Any], code: str, read: str, labels: dict[str, str]
) -> None:
    with hostile_server(serving(route(spec=spec, labels=labels))) as server:
        backend = open_backend(server.url)
        with pytest.raises(BackendError) as caught:
            READS[read](backend)
        backend.close()
    message = caught.value.message
    assert server.url in message and quote("shop") in message and code in message
    assert "nothing was written" in (caught.value.hint or "")


def test_the_refused_route_is_named_escaped() -> None:
    name = "shop\x1b[2K\nforged"
    spec = {**GOOD, "routes": [RULE, RULE]}
    with hostile_server(serving(route(name=name, spec=spec))) as server:
        backend = HttpBackend(server.url)
        with pytest.raises(BackendError) as caught:
            backend.list_routes()
        backend.close()
    assert quote(name) in caught.value.message
    assert "\x1b" not in caught.value.message and "\n" not in caught.value.message


def test_an_error_the_canonical_form_shows_is_left_to_the_route_check() -> None:
    # What an older server may hold: the http layer reads it; routes it claims are refused.
    spec = {**GOOD, "routes": [{**RULE, "route": {"service": "Bad_Service"}}]}
    with hostile_server(
        serving(route(spec=spec), route(name="legacy", spec=spec, labels={}))
    ) as server:
        plain = HttpBackend(server.url)
        assert [live.name for live in plain.list_routes()] == ["legacy", "shop"]
        plain.close()
        checked = open_backend(server.url)
        with pytest.raises(BackendError, match="R031"):
            checked.get_route("shop")
        checked.close()


def test_a_valid_spec_still_reads_as_its_canonical_form() -> None:
    spec = {"host": "Shop.Example.com.", "routes": [RULE]}
    with hostile_server(serving(route(spec=spec))) as server:
        backend = open_backend(server.url)
        [live] = backend.list_routes()
        backend.close()
    assert live.spec.host == "shop.example.com" and live.version == "7"


def test_a_route_name_that_is_not_a_route_name_stays_refused() -> None:
    with hostile_server(serving(route(name="Shop Admin"))) as server:
        backend = open_backend(server.url)
        with pytest.raises(BackendError, match="R009"):
            backend.list_routes()
        backend.close()


def test_a_route_answered_under_another_name_is_refused() -> None:
    def answer(path: str, query: dict[str, str], count: int) -> Any:
        return route(name="admin")

    with hostile_server(answer) as server:
        backend = HttpBackend(server.url)
        with pytest.raises(BackendError) as caught:
            backend.get_route("shop")
        backend.close()
    assert quote("admin") in caught.value.message and server.url in caught.value.message


# -- listings end ---------------------------------------------------------------------


def listing(next_token: Callable[[str | None, int], Any]) -> Answer:
    """Pages of one route each; ``next_token(token, count)`` is each page's nextPageToken."""

    def answer(path: str, query: dict[str, str], count: int) -> Any:
        token = next_token(query.get("pageToken"), count) if count < BOUND else None
        return {"items": [route(name=f"r{count}")], "nextPageToken": token}

    return answer


@pytest.mark.parametrize(
    ("next_token", "pages"),
    [
        (lambda token, count: "again", 2),  # the same token forever
        (lambda token, count: {None: "a", "a": "b", "b": "a"}[token], 3),  # a cycle
    ],
    ids=["same", "cycle"],
)
def test_a_repeated_page_token_stops_the_listing(
    next_token: Callable[[str | None, int], Any], pages: int
) -> None:
    with hostile_server(listing(next_token)) as server:
        backend = HttpBackend(server.url)
        with pytest.raises(BackendError, match="nextPageToken it gave before") as caught:
            backend.list_routes()
        backend.close()
    assert len(server.seen) == pages
    assert server.url in caught.value.message and "paging" in (caught.value.hint or "")


def test_a_listing_without_end_stops_at_the_page_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "MAX_PAGES", 20)
    with hostile_server(listing(lambda token, count: f"t{count}")) as server:
        backend = HttpBackend(server.url)
        with pytest.raises(BackendError, match="more than 20 pages"):
            backend.list_routes()
        backend.close()
    assert len(server.seen) == 20


def test_a_listing_stops_at_the_route_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "MAX_LISTED_ROUTES", 5)
    many = [route(name=f"r{i}") for i in range(6)]
    with hostile_server(serving(*many)) as server:
        backend = HttpBackend(server.url)
        with pytest.raises(BackendError, match="more than 5 routes"):
            backend.list_routes()
        backend.close()


@pytest.mark.parametrize("token", [5, ["a"], {"a": 1}, True])
def test_a_page_token_that_is_not_a_string_is_refused(token: Any) -> None:
    with hostile_server(listing(lambda previous, count: token)) as server:
        backend = HttpBackend(server.url)
        with pytest.raises(BackendError, match="nextPageToken"):
            backend.list_routes()
        backend.close()
    assert len(server.seen) == 1


# -- every answer's types are checked -------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        [],
        "registered",
        {"mode": "registered", "items": 5},
        {"mode": "registered", "items": {"hostname": "a.example.com"}},
        {"mode": "registered", "items": [5]},
        {"mode": "registered", "items": [{}]},
        {"mode": "registered", "items": [{"hostname": 5}]},
    ],
)
def test_a_hostname_list_of_the_wrong_shape_is_a_clear_error(answer: Any) -> None:
    with hostile_server(lambda path, query, count: answer) as server:
        backend = HttpBackend(server.url)
        with pytest.raises(BackendError) as caught:
            backend.unregistered_hosts(["a.example.com"])
        backend.close()
    assert "list hostnames" in caught.value.message and server.url in caught.value.message


@pytest.mark.parametrize(
    ("answer", "unregistered"),
    [
        ({"mode": "registered", "items": [{"hostname": "a.example.com"}]}, {"b.example.com"}),
        ({"mode": "registered", "items": []}, {"a.example.com", "b.example.com"}),
        ({"mode": "any", "items": []}, set()),
    ],
)
def test_a_good_hostname_list_still_reads(answer: Any, unregistered: set[str]) -> None:
    with hostile_server(lambda path, query, count: answer) as server:
        backend = HttpBackend(server.url)
        assert backend.unregistered_hosts(["a.example.com", "b.example.com"]) == unregistered
        backend.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"[" * 100_000 + b"]" * 100_000,  # JSON nested deeper than Python recurses
        [route()],
        route(name=5),
        route(spec=None),
        route(spec=[GOOD]),
        route(version={"v": 1}),
        route(version=True),
        route(labels={"managed-by": 5}),
        route(labels=["managed-by"]),
        route(annotations="note"),
        route(status="Ready"),
        route(status={"conditions": "Ready"}),
        route(status={"conditions": ["Ready"]}),
    ],
)
def test_a_route_answer_of_the_wrong_shape_is_a_clear_error(answer: Any) -> None:
    with hostile_server(lambda path, query, count: answer) as server:
        backend = HttpBackend(server.url)
        with pytest.raises(BackendError) as caught:
            backend.get_route("shop")
        backend.close()
    assert server.url in caught.value.message


@pytest.mark.parametrize("labels", [OWNED, {}], ids=["owned", "foreign"])
def test_a_spec_just_loaded_is_read_as_itself_and_one_field_more_is_judged(
    labels: dict[str, str],
) -> None:
    loaded = RouteSpec.from_dict(GOOD)
    remember([loaded])  # as the loader does for every descriptor it loads
    canonical = loaded.to_dict()
    with hostile_server(serving(route(spec=canonical, labels=labels))) as server:
        backend = open_backend(server.url)
        [live] = backend.list_routes()
        backend.close()
    assert live.spec is loaded
    tampered = route(spec={**canonical, "rewrite": "/evil"}, labels=labels)
    with hostile_server(serving(tampered)) as server:
        backend = open_backend(server.url)
        with pytest.raises(BackendError, match="R013"):
            backend.list_routes()
        backend.close()
