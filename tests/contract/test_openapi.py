"""``schemas/openapi.yaml`` describes ``routes serve``: real requests answer documented
status codes, and their JSON bodies validate against the documented schemas."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.http_server import RunningServer, running_server
from tests.pg_cluster import STORE_KINDS, store_location

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
BASE = "https://github.com/acme/routes/schemas/"
TOKEN = "openapi-token"
SPEC = {"host": "shop.acme.org", "routes": [{"prefix": "/", "route": {"service": "web"}}]}
JSON = {"Content-Type": "application/json"}
# A locked store: not provoked here.
UNREACHED_OK = {("put", "503"), ("delete", "503"), ("post", "503")}
BATCH = "/v1/routes:batchWrite"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((SCHEMAS / "openapi.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def registry(document: dict[str, Any]) -> Registry[Any]:
    descriptor = json.loads((SCHEMAS / "route-descriptor.schema.json").read_text())
    assert descriptor["$id"] == BASE + "route-descriptor.schema.json"
    return Registry().with_resources(
        [
            (descriptor["$id"], DRAFT202012.create_resource(descriptor)),
            (BASE + "openapi.yaml", Resource.from_contents(document, DRAFT202012)),
        ]
    )


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    assert document["openapi"].startswith("3.1")
    validator.validate(document, base_uri=(SCHEMAS / "openapi.yaml").as_uri())


GUARDED = [
    ("get", "/v1/store"),
    ("get", "/v1/routes"),
    ("get", "/v1/routes/web"),
    ("put", "/v1/routes/web"),
    ("delete", "/v1/routes/web"),
    ("post", BATCH),
    ("get", "/v1/hostnames"),
    ("post", "/v1/hostnames"),
    ("delete", "/v1/hostnames/a.org"),
]
Step = Callable[[httpx.Client], httpx.Response]


def scenario() -> Iterator[tuple[str, Step]]:
    """Real requests that together reach every documented operation and most answers."""

    def route(name: str, **headers: str) -> Step:
        return lambda c: c.put(f"/v1/routes/{name}", json={"spec": SPEC}, headers=headers)

    yield "health", lambda c: c.get("/healthz")
    yield "store id", lambda c: c.get("/v1/store")
    yield "create", route("shop", **{"If-None-Match": "*"})
    yield "create again", route("shop", **{"If-None-Match": "*"})
    yield "replace", route("shop")
    yield "second", route("web")
    yield "list", lambda c: c.get("/v1/routes", params={"pageSize": "1"})
    yield "list bad token", lambda c: c.get("/v1/routes", params={"pageToken": "@@"})
    yield "get", lambda c: c.get("/v1/routes/shop")
    yield "get not modified", lambda c: c.get("/v1/routes/web", headers={"If-None-Match": "*"})
    yield "get missing", lambda c: c.get("/v1/routes/nope")
    yield "get bad name", lambda c: c.get("/v1/routes/Bad_Name")
    yield "put bad spec", lambda c: c.put("/v1/routes/x", json={"spec": {"host": "a.org"}})
    yield "put bad json", lambda c: c.put("/v1/routes/x", content=b"{", headers=JSON)
    yield (
        "put text",
        lambda c: c.put("/v1/routes/x", content=b"x", headers={"Content-Type": "text/plain"}),
    )
    yield "put huge", lambda c: c.put("/v1/routes/x", content=b" " * ((1 << 20) + 1), headers=JSON)
    yield "batch", lambda c: c.post(BATCH, json={"writes": batch_items()})
    yield "batch again", lambda c: c.post(BATCH, json={"writes": batch_items()})
    yield "batch bad", lambda c: c.post(BATCH, json={"writes": [{"method": "GET"}]})
    yield "batch bad json", lambda c: c.post(BATCH, content=b"[", headers=JSON)
    yield (
        "batch text",
        lambda c: c.post(BATCH, content=b"x", headers={"Content-Type": "text/plain"}),
    )
    yield "batch huge", lambda c: c.post(BATCH, content=b" " * ((8 << 20) + 1), headers=JSON)
    yield "delete stale", lambda c: c.delete("/v1/routes/shop", headers={"If-Match": '"0"'})
    yield "delete", lambda c: c.delete("/v1/routes/shop")
    yield "delete missing", lambda c: c.delete("/v1/routes/shop")
    yield "delete bad name", lambda c: c.delete("/v1/routes/-x")
    yield "hostnames", lambda c: c.get("/v1/hostnames")
    yield "add hostname", lambda c: c.post("/v1/hostnames", json={"hostname": "shop.acme.org"})
    yield "add again", lambda c: c.post("/v1/hostnames", json={"hostname": "shop.acme.org"})
    yield "add bad", lambda c: c.post("/v1/hostnames", json={"hostname": "not a host"})
    yield "add bad json", lambda c: c.post("/v1/hostnames", content=b"[", headers=JSON)
    yield (
        "add text",
        lambda c: c.post("/v1/hostnames", content=b"a", headers={"Content-Type": "text/plain"}),
    )
    yield (
        "add huge",
        lambda c: c.post("/v1/hostnames", content=b" " * ((1 << 20) + 1), headers=JSON),
    )
    yield "remove hostname", lambda c: c.delete("/v1/hostnames/shop.acme.org")
    yield "remove missing", lambda c: c.delete("/v1/hostnames/shop.acme.org")
    yield "remove bad", lambda c: c.delete("/v1/hostnames/bad_host")


def batch_items() -> list[dict[str, Any]]:
    """A create, a bad spec, a stale replace and two deletes: every status an item can have."""
    return [
        {"method": "PUT", "name": "batched", "spec": SPEC, "ifNoneMatch": "*"},
        {"method": "PUT", "name": "invalid", "spec": {"host": "a.org"}, "ifNoneMatch": "*"},
        {"method": "PUT", "name": "web", "spec": SPEC, "ifMatch": "*"},
        {"method": "PUT", "name": "shop", "spec": SPEC, "ifMatch": "0"},
        {"method": "DELETE", "name": "nothing"},
    ]


def operation_of(document: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method in item:
            return template, item[method]
    raise AssertionError(f"{method.upper()} {path} is not documented")


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def check_answer(
    document: dict[str, Any], registry: Registry[Any], response: httpx.Response
) -> tuple[str, str, str]:
    method = response.request.method.lower()
    template, operation = operation_of(document, method, response.request.url.path)
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template} answered undocumented {status}"
    documented = resolve(document, operation["responses"][status])
    content = documented.get("content", {}).get("application/json")
    if content is None:
        assert response.content == b"", f"{method} {template} {status} has an undocumented body"
    else:
        assert response.headers["content-type"].startswith("application/json")
        schema = {"$ref": BASE + "openapi.yaml#" + content["schema"]["$ref"].removeprefix("#")}
        jsonschema.Draft202012Validator(schema, registry=registry).validate(response.json())
    for header, spec in documented.get("headers", {}).items():
        if header in ("ETag", "Retry-After", "WWW-Authenticate"):
            assert header in response.headers, f"{method} {template} {status} lacks {header}"
        if header in response.headers:
            pattern = resolve(document, spec)["schema"].get("pattern")
            assert pattern is None or re.match(pattern, response.headers[header])
    return template, method, status


@pytest.fixture(scope="module", params=STORE_KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    location = store_location(request, tmp_path_factory.mktemp("oas"))
    with running_server(location, token=TOKEN) as running:
        yield running


def test_real_answers_match_the_document(
    document: dict[str, Any], registry: Registry[Any], server: RunningServer, tmp_path: Path
) -> None:
    seen: set[tuple[str, str, str]] = set()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        for _, step in scenario():
            seen.add(check_answer(document, registry, step(client)))
    with httpx.Client(base_url=server.url) as anonymous:
        for method, path in GUARDED:
            seen.add(check_answer(document, registry, anonymous.request(method, path)))
    with (
        running_server(tmp_path / "limited.db", rate_limit=0.001) as limited,
        httpx.Client(base_url=limited.url) as client,
    ):
        for method, path in GUARDED:
            client.request(method, path)  # spends the one token of a fresh bucket, or not
            seen.add(check_answer(document, registry, client.request(method, path)))
    documented = {
        (template, method, status)
        for template, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete")
        for status in operation["responses"]
    }
    unreached = {d for d in documented - seen if (d[1], d[2]) not in UNREACHED_OK}
    assert not unreached, f"documented answers no request reached: {sorted(unreached)}"


def test_batch_items_reach_every_documented_item_status(
    document: dict[str, Any], registry: Registry[Any], server: RunningServer
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        for name in ("doomed", "web", "shop"):
            client.put(f"/v1/routes/{name}", json={"spec": SPEC})
        for name in ("batched", "invalid", "nothing"):
            client.delete(f"/v1/routes/{name}")
        items = [*batch_items(), {"method": "DELETE", "name": "doomed"}]
        answer = client.post(BATCH, json={"writes": items})
    check_answer(document, registry, answer)
    schema = document["components"]["schemas"]["BatchWriteResult"]
    assert {r["status"] for r in answer.json()["results"]} == set(
        schema["properties"]["status"]["enum"]
    )
