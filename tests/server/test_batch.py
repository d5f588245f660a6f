"""``POST /v1/routes:batchWrite`` of ``routes serve``: each item answered as its own PUT or
DELETE would be, in order, in one store transaction; malformed batches refused whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.server.batch import MAX_BATCH_WRITES
from tests.http_server import RunningServer, running_server
from tests.server.support import AUTH, SPEC, TOKEN, error_of, put

BATCH = "/v1/routes:batchWrite"
OTHER = {"host": "blog.acme.org", "routes": [{"prefix": "/", "route": {"service": "blog"}}]}


def create(name: str, spec: Any = SPEC, **more: Any) -> dict[str, Any]:
    return {"method": "PUT", "name": name, "spec": spec, "ifNoneMatch": "*", **more}


def replace(name: str, version: str, spec: Any = SPEC) -> dict[str, Any]:
    return {"method": "PUT", "name": name, "spec": spec, "ifMatch": version}


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"results"}
    found: list[dict[str, Any]] = body["results"]
    return found


def test_creates_replaces_and_deletes_are_answered_in_order(client: httpx.Client) -> None:
    old = put(client, "old", **{"If-None-Match": "*"}).json()
    kept = put(client, "kept", OTHER, **{"If-None-Match": "*"}).json()
    labels = {"managed-by": "routes"}
    writes = [
        create("shop", labels=labels, annotations={"routes/source-path": "r/shop.yaml"}),
        replace("kept", kept["version"], SPEC),
        {"method": "DELETE", "name": "old", "ifMatch": old["version"]},
    ]
    answered = results(client.post(BATCH, json={"writes": writes}))
    assert [(r["name"], r["status"]) for r in answered] == [
        ("shop", 201),
        ("kept", 200),
        ("old", 204),
    ]
    assert answered[0]["route"] == client.get("/v1/routes/shop").json()
    assert answered[0]["route"]["labels"] == labels
    assert answered[1]["route"] == client.get("/v1/routes/kept").json()
    assert answered[1]["route"]["createdAt"] == kept["createdAt"]
    assert "route" not in answered[2] and client.get("/v1/routes/old").status_code == 404
    assert int(answered[0]["route"]["version"]) < int(answered[1]["route"]["version"])


def test_each_condition_is_decided_alone_and_the_rest_is_written(client: httpx.Client) -> None:
    routes = {name: put(client, name, **{"If-None-Match": "*"}).json() for name in "abc"}
    writes = [
        create("a"),  # exists
        replace("b", "999999"),  # stale
        replace("missing", "*"),  # If-Match on a route that does not exist
        {"method": "DELETE", "name": "gone"},
        {"method": "DELETE", "name": "c", "ifMatch": "1234567"},
        create("fresh"),
    ]
    answered = results(client.post(BATCH, json={"writes": writes}))
    assert [r["status"] for r in answered] == [412, 412, 412, 404, 412, 201]
    assert answered[0]["error"]["details"] == [{"currentVersion": routes["a"]["version"]}]
    assert answered[1]["error"]["details"] == [{"currentVersion": routes["b"]["version"]}]
    assert answered[2]["error"]["details"] == [{"currentVersion": None}]
    assert answered[3]["error"]["code"] == "route_not_found"
    assert answered[4]["error"]["details"] == [{"currentVersion": routes["c"]["version"]}]
    assert {answered[i]["error"]["code"] for i in (0, 1, 2, 4)} == {"precondition_failed"}
    for name, route in routes.items():
        assert client.get(f"/v1/routes/{name}").json() == route  # refused: unchanged
    assert client.get("/v1/routes/fresh").status_code == 200
    # The same answers as the single requests give.
    single = put(client, "a", **{"If-None-Match": "*"})
    assert single.status_code == 412 and error_of(single) == answered[0]["error"]
    stale = client.put("/v1/routes/b", json={"spec": SPEC}, headers={"If-Match": '"999999"'})
    assert error_of(stale) == answered[1]["error"]
    gone = client.put("/v1/routes/missing", json={"spec": SPEC}, headers={"If-Match": "*"})
    assert error_of(gone) == answered[2]["error"]
    assert error_of(client.delete("/v1/routes/gone")) == answered[3]["error"]


def test_a_batch_sent_again_writes_nothing_twice(client: httpx.Client) -> None:
    writes = {"writes": [create("a"), create("b", OTHER)]}
    first = results(client.post(BATCH, json=writes))
    again = results(client.post(BATCH, json=writes))
    assert [r["status"] for r in first] == [201, 201]
    assert [r["status"] for r in again] == [412, 412]
    versions = [r["route"]["version"] for r in first]
    assert [r["error"]["details"][0]["currentVersion"] for r in again] == versions


def test_a_bad_spec_is_that_items_422_as_put_answers_it(client: httpx.Client) -> None:
    bad = {"host": "shop.acme.org", "routes": [{"prefix": "carts", "route": {}}]}
    writes = [create("good"), create("bad", bad), create("odd", labels={"a": 5})]
    answered = results(client.post(BATCH, json={"writes": writes}))
    assert [r["status"] for r in answered] == [201, 422, 422]
    single = put(client, "bad", bad, **{"If-None-Match": "*"})
    assert single.status_code == 422
    assert answered[1]["error"] == error_of(single)  # one spec validation, every door
    assert answered[1]["error"]["details"][0]["pointer"].startswith("/routes/0")
    assert answered[2]["error"]["code"] == "invalid_request"
    assert client.get("/v1/routes/good").status_code == 200
    assert client.get("/v1/routes/bad").status_code == 404


MALFORMED: dict[str, tuple[Any, str, str]] = {
    "not an object": ([create("a")], "invalid_batch", ""),
    "no writes": ({"items": []}, "invalid_batch", ""),
    "writes not a list": ({"writes": {"a": 1}}, "invalid_batch", "/writes"),
    "too many": (
        {"writes": [create(f"r{i}") for i in range(MAX_BATCH_WRITES + 1)]},
        "invalid_batch",
        "/writes",
    ),
    "an item not an object": ({"writes": [create("a"), "b"]}, "invalid_batch", "/writes/1"),
    "no method": ({"writes": [{"name": "a", "spec": SPEC}]}, "invalid_batch", "/writes/0/method"),
    "a bad name": ({"writes": [create("Bad_Name")]}, "invalid_route_name", "/writes/0/name"),
    "no name": ({"writes": [{"method": "DELETE"}]}, "invalid_batch", "/writes/0/name"),
    "a name twice": ({"writes": [create("a"), create("a")]}, "invalid_batch", "/writes/1/name"),
    "a PUT without a condition": (
        {"writes": [{"method": "PUT", "name": "a", "spec": SPEC}]},
        "invalid_batch",
        "/writes/0",
    ),
    "a PUT with both conditions": (
        {"writes": [create("a", ifMatch="3")]},
        "invalid_batch",
        "/writes/0",
    ),
    "a quoted version": ({"writes": [replace("a", '"3"')]}, "invalid_batch", "/writes/0/ifMatch"),
    "a version that is a number": (
        {"writes": [replace("a", 3)]},  # type: ignore[arg-type]
        "invalid_batch",
        "/writes/0/ifMatch",
    ),
    "ifNoneMatch other than *": (
        {"writes": [create("a", ifNoneMatch='"3"')]},
        "invalid_batch",
        "/writes/0/ifNoneMatch",
    ),
    "a DELETE with a spec": (
        {"writes": [{"method": "DELETE", "name": "a", "spec": SPEC}]},
        "invalid_batch",
        "/writes/0/spec",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_batch_is_refused_whole(client: httpx.Client, case: str) -> None:
    body, code, pointer = MALFORMED[case]
    response = client.post(BATCH, json=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code
    assert error["details"][0]["pointer"] == pointer
    assert client.get("/v1/routes").json()["items"] == []  # nothing of it was written


def test_a_batch_must_be_json(client: httpx.Client) -> None:
    json_type = {"Content-Type": "application/json"}
    assert error_of(client.post(BATCH, content=b"{", headers=json_type))["code"] == "malformed_json"
    text = client.post(BATCH, content=b"x", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415


def test_an_empty_batch_is_answered_with_no_results(client: httpx.Client) -> None:
    assert results(client.post(BATCH, json={"writes": []})) == []


def test_a_batch_may_be_larger_than_a_put_but_not_past_its_own_limit(tmp_path: Path) -> None:
    with (
        running_server(tmp_path / "s.db", token=TOKEN, max_body=2000, max_batch_body=6000) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH) as client,
    ):
        fits = {"writes": [create(f"r{i}") for i in range(25)]}  # about 3 KB: over one PUT
        assert [r["status"] for r in results(client.post(BATCH, json=fits))] == [201] * 25
        huge = {"writes": [create(f"s{i}") for i in range(60)]}
        response = client.post(BATCH, json=huge)
        assert response.status_code == 413
        assert error_of(response)["code"] == "payload_too_large"
        assert "6000 bytes" in error_of(response)["message"]
        assert len(srv.store.list_routes()) == 25


def test_a_batch_needs_the_token(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        refused = anonymous.post(BATCH, json={"writes": [create("a")]})
    assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers
    assert error_of(refused)["code"] == "unauthorized"
    assert server.store.get_route("a") is None


def test_a_batch_counts_against_the_rate_limit_as_a_put_does(tmp_path: Path) -> None:
    with (
        running_server(tmp_path / "s.db", token=TOKEN, rate_limit=0.001) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH) as client,
    ):
        assert client.post(BATCH, json={"writes": [create("a")]}).status_code == 200
        limited = client.post(BATCH, json={"writes": [create("b")]})
        assert limited.status_code == 429 and limited.headers["Retry-After"].isdigit()
        assert error_of(limited)["code"] == "rate_limited"
        assert [r.name for r in srv.store.list_routes()] == ["a"]


def test_a_store_failure_rolls_the_whole_batch_back(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with running_server(db, token=TOKEN) as srv, httpx.Client(base_url=srv.url, headers=AUTH) as c:
        assert put(c, "before", **{"If-None-Match": "*"}).status_code == 201
        with sqlite3.connect(db) as conn:  # the disk fails on the batch's second row
            conn.execute(
                "CREATE TRIGGER fail BEFORE INSERT ON routes WHEN NEW.name = 'boom'"
                " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        writes = [create("first"), replace("before", "*", OTHER), create("boom")]
        response = c.post(BATCH, json={"writes": writes})
        assert response.status_code == 500
        assert error_of(response)["code"] == "store_error"
        assert c.get("/v1/routes/first").status_code == 404
        assert c.get("/v1/routes/before").json()["spec"]["host"] == SPEC["host"]
        after = c.post(BATCH, json={"writes": [create("first")]})
        assert results(after)[0]["status"] == 201  # the store works on


def test_the_single_route_endpoints_are_unchanged(client: httpx.Client) -> None:
    assert client.get(BATCH).status_code == 405
    assert client.get("/v1/routes/batchwrite").status_code == 404  # a route name, as ever
    assert put(client, "shop").status_code == 201  # an unconditional PUT still upserts
