"""The http backend's batch writes: ``POST /v1/routes:batchWrite`` against a real ``routes
serve``, the per-route fallback for a server without it, a batch whose answer was lost, and
batch answers a hostile server could give (MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.apply.journal import read_journal
from reconciler.backends.base import Backend, Write
from reconciler.backends.http.client import HttpBackend
from reconciler.errors import (
    BackendError,
    ConflictError,
    InvalidSpecError,
    NotFoundError,
    TransientBackendError,
)
from reconciler.model import DesiredRoute, LiveRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.planner import PlanOptions, make_plan
from reconciler.results import ApplyResult
from tests.backends.contract import LABELS, BatchWriterContract, simple_spec
from tests.http_server import RunningServer, running_server, without_batch_endpoint

TOKEN = "batch-token"
BATCH = "/v1/routes:batchWrite"
Asgi = Any


def losing_first_batch_answer(app: Asgi) -> Asgi:
    """A proxy that lets the first batch that writes through to the server but loses its
    answer (502)."""
    lost = []

    async def proxy(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != BATCH or lost:
            await app(scope, receive, send)
            return
        message = await receive()
        assert not message.get("more_body")
        replayed = [message]

        async def replay() -> Any:
            return replayed.pop() if replayed else {"type": "http.disconnect"}

        if message.get("body") == b'{"writes":[]}':  # the backend asking about the endpoint
            await app(scope, replay, send)
            return
        lost.append(scope["path"])

        async def swallow(message: Any) -> None:
            return None

        await app(scope, replay, swallow)  # committed, and nobody hears it
        body = json.dumps({"error": {"code": "bad_gateway", "message": "lost", "details": []}})
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 502, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})

    return proxy


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Starts servers for the test (``wrap``: a middleware of its own); stops them after."""
    stack: list[Any] = []

    def start(wrap: Callable[[Asgi], Asgi] | None = None) -> RunningServer:
        context = running_server(tmp_path / f"s{len(stack)}.db", token=TOKEN, wrap=wrap)
        stack.append(context)
        running: RunningServer = context.__enter__()
        return running

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


def recording(url: str) -> tuple[HttpBackend, list[str]]:
    """A backend whose requests are recorded as ``METHOD path``."""
    sent: list[str] = []

    def record(request: httpx.Request) -> None:
        sent.append(f"{request.method} {request.url.path}")

    client = httpx.Client(event_hooks={"request": [record]}, timeout=30)
    return HttpBackend(url, token=TOKEN, client=client), sent


class TestFallbackContract(BatchWriterContract):
    """The same batch behaviour from a server without the endpoint, one request a write."""

    @pytest.fixture
    def backend(self, serve: Callable[..., RunningServer]) -> Iterator[Backend]:
        backend = HttpBackend(serve(without_batch_endpoint).url, token=TOKEN)
        yield backend
        backend.close()


# -- applies over http ------------------------------------------------------------------------


def desired(count: int, service: str = "web") -> RouteSet:
    return RouteSet(
        {
            f"r{i:04d}": DesiredRoute(
                f"r{i:04d}", simple_spec(f"r{i}.example.com", service), SourceLocation("r.yaml")
            )
            for i in range(count)
        }
    )


def plan_options(prune: bool = False) -> PlanOptions:
    return PlanOptions(owner="acme/gitops", backend_url=URL, tool_version="test", prune=prune)


def apply_all(backend: HttpBackend, routes: RouteSet, journal: Path | None = None) -> ApplyResult:
    plan = make_plan(routes, backend.list_routes(), plan_options())
    specs = {name: route.spec for name, route in routes.items()}
    options = ApplyOptions(journal_dir=journal, backoff_base=0.0, backoff_cap=0.0)
    return apply_plan(plan, backend, specs, options, sleep=lambda _: None)


def test_an_apply_writes_50_routes_a_request(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    backend, sent = recording(server.url)
    result = apply_all(backend, desired(1200))
    assert result.ok and result.count("applied") == 1200
    assert {r.message for r in result.results} == {"created"}
    writes = [line for line in sent if not line.startswith("GET")]
    # One empty batch asking about the endpoint, then 50 creates a request; no PUT, no read.
    assert writes == [f"POST {BATCH}"] * 25
    assert len(server.store.list_routes()) == 1200
    routes = {r.name: r for r in server.store.list_routes()}
    assert all(dict(routes[r.route].labels).items() >= LABELS.items() for r in result.results)
    assert all(r.version == routes[r.route].version for r in result.results)


def test_updates_and_deletes_go_in_batches_too(serve: Callable[..., RunningServer]) -> None:
    server = serve()
    backend, sent = recording(server.url)
    assert apply_all(backend, desired(30)).ok
    sent.clear()
    changed = RouteSet({n: r for n, r in desired(30, "web-v2").items() if n < "r0020"})
    plan = make_plan(changed, backend.list_routes(), plan_options(prune=True))
    specs = {name: route.spec for name, route in changed.items()}
    result = apply_plan(plan, backend, specs, ApplyOptions(max_deletes=10))
    assert result.ok
    assert result.count("applied") == 30
    assert [line for line in sent if not line.startswith("GET")] == [f"POST {BATCH}"] * 2
    assert {r.message for r in result.results if r.action == "delete"} == {"deleted"}
    assert len(server.store.list_routes()) == 20
    assert all(
        r.spec == simple_spec(f"r{int(r.name[1:])}.example.com", "web-v2")
        for r in server.store.list_routes()
    )


def test_a_server_without_the_endpoint_gets_one_put_a_route_and_the_same_report(
    serve: Callable[..., RunningServer], tmp_path: Path
) -> None:
    batched, _ = recording(serve().url)
    older, sent = recording(serve(without_batch_endpoint).url)
    first = apply_all(batched, desired(25), tmp_path / "batched")
    second = apply_all(older, desired(25), tmp_path / "older")
    assert second.ok
    writes = [line for line in sent if not line.startswith("GET")]
    assert writes[0] == f"POST {BATCH}"  # asked once, answered 404: one PUT per route
    assert sorted(writes[1:]) == [f"PUT /v1/routes/r{i:04d}" for i in range(25)]

    def report(result: ApplyResult) -> list[tuple[str, str, str, str, int]]:
        return [(r.route, r.action, r.outcome, r.message, r.attempts) for r in result.results]

    assert report(first) == report(second)
    assert first.summary() == second.summary()
    lines = [read_journal(Path(r.journal or "")) for r in (first, second)]
    results = [
        sorted((e["route"], e["outcome"], e["message"]) for e in journal if e["event"] == "result")
        for journal in lines
    ]
    assert results[0] == results[1]
    assert lines[0][-1]["report"] == lines[1][-1]["report"]


def test_a_batch_whose_answer_was_lost_is_read_back_as_already_applied(
    serve: Callable[..., RunningServer], tmp_path: Path
) -> None:
    server = serve(losing_first_batch_answer)
    backend, sent = recording(server.url)
    result = apply_all(backend, desired(40), tmp_path / "journal")
    assert result.ok
    assert result.count("already-applied") == 40  # written by the batch whose answer was lost
    assert [line for line in sent if not line.startswith("GET")] == [f"POST {BATCH}"] * 2
    events = read_journal(Path(result.journal or ""))
    assert {e["route"] for e in events if e["event"] == "retry"} == set(desired(40))
    assert len(server.store.list_routes()) == 40


# -- hostile batch answers (MockTransport) ------------------------------------------------------

URL = "http://control.test"
SPEC = {"host": "shop.example.com", "routes": [{"prefix": "/", "route": {"service": "web"}}]}


def route_json(name: str, version: str = "7", spec: Any = SPEC) -> dict[str, Any]:
    return {
        "name": name,
        "spec": spec,
        "labels": {},
        "annotations": {},
        "version": version,
        "status": {"conditions": []},
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
    }


def answering(status: int, body: Any) -> HttpBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == BATCH
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    return HttpBackend(URL, client=httpx.Client(transport=httpx.MockTransport(handler)))


WRITES = [
    Write("a", "create", simple_spec("a.example.com")),
    Write("b", "replace", simple_spec("b.example.com"), expected_version="3"),
    Write("c", "delete", expected_version="4"),
]


def error(status: int, code: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {
        "status": status,
        "error": {"code": code, "message": f"{code}!", "details": details or []},
    }


def test_each_item_of_an_answer_becomes_what_the_single_request_would_raise() -> None:
    backend = answering(
        200,
        {
            "results": [
                {"name": "a", **error(412, "precondition_failed", [{"currentVersion": "2"}])},
                {
                    "name": "b",
                    **error(422, "invalid_spec", [{"pointer": "/routes", "message": "no"}]),
                },
                {"name": "c", **error(404, "route_not_found")},
            ]
        },
    )
    a, b, c = backend.write_batch(WRITES)
    assert isinstance(a, ConflictError) and "cannot create route 'a'" in a.message
    assert isinstance(b, InvalidSpecError) and "/routes: no" in b.message
    assert isinstance(c, NotFoundError) and "cannot delete route 'c'" in c.message


def test_a_good_answer_gives_the_routes_and_the_delete() -> None:
    backend = answering(
        200,
        {
            "results": [
                {"name": "a", "status": 201, "route": route_json("a", "8")},
                {"name": "b", "status": 200, "route": route_json("b", "9")},
                {"name": "c", "status": 204},
            ]
        },
    )
    a, b, c = backend.write_batch(WRITES)
    assert isinstance(a, LiveRoute) and a.version == "8" and a.spec == RouteSpec.from_dict(SPEC)
    assert isinstance(b, LiveRoute) and b.version == "9"
    assert c is None


GOOD = [
    {"name": "a", "status": 201, "route": route_json("a")},
    {"name": "b", "status": 200, "route": route_json("b")},
    {"name": "c", "status": 204},
]
HOSTILE = {
    "not JSON": b"<html>",
    "no results": {"items": []},
    "one result short": {"results": GOOD[:2]},
    "one result too many": {"results": [*GOOD, GOOD[2]]},
    "out of order": {"results": [GOOD[1], GOOD[0], GOOD[2]]},
    "a result that is a list": {"results": [GOOD[0], [], GOOD[2]]},
    "a status that is text": {"results": [{**GOOD[0], "status": "201"}, *GOOD[1:]]},
    "a status that is true": {"results": [{**GOOD[0], "status": True}, *GOOD[1:]]},
    "a create answered as a replace": {"results": [{**GOOD[0], "status": 200}, *GOOD[1:]]},
    "a delete answered with a route": {
        "results": [*GOOD[:2], {**GOOD[2], "route": route_json("c")}]
    },
    "a route of another name": {"results": [{**GOOD[0], "route": route_json("z")}, *GOOD[1:]]},
    "a route with a bad spec": {
        "results": [{**GOOD[0], "route": route_json("a", spec={"host": 5})}, *GOOD[1:]]
    },
    "a route without a version": {
        "results": [{**GOOD[0], "route": {**route_json("a"), "version": None}}, *GOOD[1:]]
    },
    "a failure without an error": {"results": [{"name": "a", "status": 412}, *GOOD[1:]]},
    "a 3xx": {"results": [{"name": "a", "status": 304}, *GOOD[1:]]},
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_malformed_batch_answer_is_a_backend_error_never_trusted(case: str) -> None:
    backend = answering(200, HOSTILE[case])
    with pytest.raises(BackendError) as caught:
        backend.write_batch(WRITES)
    assert type(caught.value) is BackendError  # not a transient one: never retried blindly
    assert URL in caught.value.message


def test_a_refused_batch_is_an_error_and_a_busy_one_is_retried() -> None:
    refused = answering(
        400, {"error": {"code": "invalid_batch", "message": "too many", "details": []}}
    )
    with pytest.raises(BackendError, match="too many"):
        refused.write_batch(WRITES)
    busy = answering(503, {"error": {"code": "unavailable", "message": "busy", "details": []}})
    assert all(isinstance(o, TransientBackendError) for o in busy.write_batch(WRITES))
