"""Black-box checks of DESIGN §8 found by acceptance review: conditional requests by
RFC 9110, and answers that stay the API's JSON on paths a client can get slightly wrong."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.http_server import RunningServer, running_server
from tests.pg_cluster import STORE_KINDS, store_location

SPEC = {"host": "shop.acme.org", "routes": [{"prefix": "/carts", "route": {"service": "cart"}}]}


@pytest.fixture(scope="module", params=STORE_KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    location = store_location(request, tmp_path_factory.mktemp("contract"))
    with running_server(location) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    for route in server.store.list_routes():
        server.store.delete_route(route.name)
    with httpx.Client(base_url=server.url) as http:
        yield http


def put(client: httpx.Client, name: str, **headers: str) -> httpx.Response:
    return client.put(f"/v1/routes/{name}", json={"spec": SPEC}, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return error


def test_a_weak_etag_never_meets_if_match(client: httpx.Client) -> None:
    version = put(client, "shop").json()["version"]
    weak = f'W/"{version}"'
    replaced = put(client, "shop", **{"If-Match": weak})
    assert replaced.status_code == 412
    assert error_of(replaced)["details"] == [{"currentVersion": version}]
    deleted = client.delete("/v1/routes/shop", headers={"If-Match": weak})
    assert deleted.status_code == 412
    assert client.get("/v1/routes/shop").json()["version"] == version
    strong = put(client, "shop", **{"If-Match": f'"{version}"'})
    assert strong.status_code == 200


def test_if_none_match_on_get_compares_weakly(client: httpx.Client) -> None:
    version = put(client, "shop").json()["version"]
    unchanged = client.get("/v1/routes/shop", headers={"If-None-Match": f'W/"{version}"'})
    assert unchanged.status_code == 304


def test_delete_honours_if_none_match(client: httpx.Client) -> None:
    version = put(client, "shop").json()["version"]
    for tag in ("*", f'"{version}"', f'"0", W/"{version}"'):
        refused = client.delete("/v1/routes/shop", headers={"If-None-Match": tag})
        assert refused.status_code == 412, tag
        assert error_of(refused)["details"] == [{"currentVersion": version}]
    assert client.get("/v1/routes/shop").status_code == 200
    both = client.delete("/v1/routes/shop", headers={"If-None-Match": "*", "If-Match": "*"})
    assert error_of(both)["code"] == "invalid_header"
    other = client.delete("/v1/routes/shop", headers={"If-None-Match": '"0"'})
    assert other.status_code == 204
    missing = client.delete("/v1/routes/shop", headers={"If-None-Match": "*"})
    assert error_of(missing)["code"] == "route_not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz/"),
        ("GET", "/v1/routes/"),
        ("GET", "/v1/routes/shop/"),
        ("PUT", "/v1/routes/shop/"),
        ("GET", "/v1/hostnames/"),
    ],
)
def test_a_trailing_slash_answers_json_not_a_redirect(
    client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path, json={"spec": SPEC})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found"
    assert "trailing slash" in error["message"]
    assert client.get("/v1/routes/shop").status_code == 404


@pytest.mark.parametrize("host", ["bad host!", "*.acme.org", "https://acme.org", "a..b"])
def test_a_host_the_platform_cannot_route_is_422(client: httpx.Client, host: str) -> None:
    body = {"spec": {"host": host, "routes": [{"prefix": "/", "route": {"service": "s"}}]}}
    answer = client.put("/v1/routes/shop", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["pointer"] == "/host"
    assert client.get("/v1/routes/shop").status_code == 404
