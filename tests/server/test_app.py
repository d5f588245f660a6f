"""``routes serve`` over a real loopback socket: every endpoint and status of DESIGN §8."""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.model import RouteSpec
from tests.http_server import RunningServer, running_server
from tests.server.support import SPEC, error_of, put

# -- routes -----------------------------------------------------------------------------------


def test_create_read_replace_delete_with_etags(client: httpx.Client) -> None:
    created = put(client, "shop", **{"If-None-Match": "*"})
    assert created.status_code == 201
    assert created.headers["Location"] == "/v1/routes/shop"
    route = created.json()
    assert created.headers["ETag"] == f'"{route["version"]}"'
    assert route["name"] == "shop"
    assert route["spec"] == SPEC
    assert route["createdAt"] and route["updatedAt"]
    assert [c["type"] for c in route["status"]["conditions"]] == ["HostValidation", "Ready"]

    read = client.get("/v1/routes/shop")
    assert read.status_code == 200
    assert read.headers["ETag"] == created.headers["ETag"]
    assert (
        client.get("/v1/routes/shop", headers={"If-None-Match": read.headers["ETag"]}).status_code
        == 304
    )

    changed = {**SPEC, "routes": [{"prefix": "/carts", "route": {"service": "cart-v2"}}]}
    replaced = put(client, "shop", changed, **{"If-Match": read.headers["ETag"]})
    assert replaced.status_code == 200
    assert replaced.headers["ETag"] != read.headers["ETag"]
    assert replaced.json()["createdAt"] == route["createdAt"]
    assert client.get("/v1/routes/shop").json()["spec"] == changed

    stale = client.delete("/v1/routes/shop", headers={"If-Match": read.headers["ETag"]})
    assert stale.status_code == 412
    assert client.get("/v1/routes/shop").status_code == 200
    gone = client.delete("/v1/routes/shop", headers={"If-Match": replaced.headers["ETag"]})
    assert gone.status_code == 204
    assert gone.content == b""
    missing = client.get("/v1/routes/shop")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "route_not_found"
    assert error_of(client.delete("/v1/routes/shop"))["code"] == "route_not_found"


def test_unconditional_put_creates_then_replaces(client: httpx.Client) -> None:
    assert put(client, "shop").status_code == 201
    assert put(client, "shop").status_code == 200


def test_unmet_conditions_answer_412_with_the_current_version(client: httpx.Client) -> None:
    version = put(client, "shop").json()["version"]
    exists = put(client, "shop", **{"If-None-Match": "*"})
    assert exists.status_code == 412
    assert error_of(exists)["details"] == [{"currentVersion": version}]
    moved = put(client, "shop", **{"If-Match": '"999999"'})
    assert moved.status_code == 412
    assert error_of(moved)["code"] == "precondition_failed"
    assert client.get("/v1/routes/shop").json()["version"] == version
    absent = put(client, "other", **{"If-Match": f'"{version}"'})
    assert absent.status_code == 412
    assert error_of(absent)["details"] == [{"currentVersion": None}]
    assert client.get("/v1/routes/other").status_code == 404


def test_unreadable_conditions_are_400(client: httpx.Client) -> None:
    assert put(client, "shop", **{"If-Match": "7"}).status_code == 400
    assert put(client, "shop", **{"If-None-Match": '"7"'}).status_code == 400
    both = put(client, "shop", **{"If-Match": '"7"', "If-None-Match": "*"})
    assert error_of(both)["code"] == "invalid_header"


@pytest.mark.parametrize(
    ("spec", "pointer"),
    [
        (
            {"host": "a.org", "routes": [{"prefix": "carts", "route": {"service": "c"}}]},
            "/routes/0/prefix",
        ),
        (
            {"host": "a.org", "routes": [{"prefix": "/", "route": {"service": "c"}, "nmae": "x"}]},
            "/routes/0/nmae",
        ),
        ({"host": "a.org"}, ""),
        ({"host": "a.org", "routes": []}, "/routes"),
        (
            {"host": "a.org", "routes": [{"prefix": "/", "route": {"service": "a"}}] * 2},
            "/routes/1/prefix",
        ),
        (
            {
                "host": "a.org",
                "validation": {"clientCertificate": {"subjectMatches": [{"exact": "c"}]}},
                "routes": [{"prefix": "/", "route": {"service": "a"}}],
            },
            "/validation/clientCertificate",
        ),
    ],
)
def test_invalid_specs_are_422_with_json_pointers(
    client: httpx.Client, spec: dict[str, Any], pointer: str
) -> None:
    response = put(client, "shop", spec)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_spec"
    assert pointer in [d["pointer"] for d in error["details"]]
    assert all(d["message"] for d in error["details"])
    assert client.get("/v1/routes/shop").status_code == 404


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ([SPEC], ""),
        ({"labels": {}}, "/spec"),
        ({"spec": SPEC, "labels": {"a": 1}}, "/labels/a"),
        ({"spec": SPEC, "annotations": "x"}, "/annotations"),
        ({"spec": SPEC, "owner": "me"}, "/owner"),
    ],
)
def test_bodies_of_the_wrong_shape_are_422(client: httpx.Client, body: Any, pointer: str) -> None:
    response = client.put("/v1/routes/shop", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert error["details"][0]["pointer"] == pointer


def test_a_route_read_back_can_be_put_back(client: httpx.Client) -> None:
    route = put(client, "shop").json()
    route["labels"] = {"team": "carts"}
    again = client.put("/v1/routes/shop", json=route, headers={"If-Match": f'"{route["version"]}"'})
    assert again.status_code == 200
    assert again.json()["labels"] == {"team": "carts"}


@pytest.mark.parametrize(
    "raw", [b"{", b'{"spec": 1,}', b'{"spec": NaN}', b'{"spec": {}, "spec": {}}', b"\xff\xfe"]
)
def test_malformed_json_is_400(client: httpx.Client, raw: bytes) -> None:
    response = client.put(
        "/v1/routes/shop", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


def test_non_json_bodies_are_415(client: httpx.Client) -> None:
    response = client.put(
        "/v1/routes/shop", content=b"host=a", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_bodies_over_one_mebibyte_are_413_by_length_and_by_stream(client: httpx.Client) -> None:
    big = json.dumps({"spec": SPEC, "labels": {"pad": "x" * (1024 * 1024)}}).encode()
    declared = client.put(
        "/v1/routes/shop", content=big, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413
    assert error_of(declared)["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    streamed = client.put(
        "/v1/routes/shop", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413
    assert client.get("/v1/routes/shop").status_code == 404


def test_a_body_just_under_the_limit_is_accepted(client: httpx.Client) -> None:
    body = {"spec": SPEC, "labels": {"pad": ""}}
    room = 1024 * 1024 - len(json.dumps(body).encode())
    body["labels"] = {"pad": "x" * room}
    raw = json.dumps(body).encode()
    assert len(raw) == 1024 * 1024
    response = client.put(
        "/v1/routes/shop", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "name", ["Shop", "-shop", "shop-", "a" * 64, "sh%C3%B6p", "a_b", "a.b", "..", "%20"]
)
def test_odd_route_names_are_refused_clearly(client: httpx.Client, name: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = client.request(method, f"/v1/routes/{name}", json={"spec": SPEC})
        assert response.status_code in (400, 404), (method, name)
        assert error_of(response)["code"] in ("invalid_route_name", "not_found")
    assert client.get("/v1/routes").json()["items"] == []


def test_path_traversal_finds_nothing(client: httpx.Client) -> None:
    response = client.get("/v1/routes/..%2F..%2Fhealthz")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_longest_name_is_accepted(client: httpx.Client) -> None:
    name = "a" + "-" * 61 + "z"
    assert put(client, name).status_code == 201
    assert client.get(f"/v1/routes/{name}").json()["name"] == name


def test_unknown_endpoints_and_methods_answer_json(client: httpx.Client) -> None:
    missing = client.get("/v2/routes")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    wrong = client.post("/v1/routes/shop", json={})
    assert wrong.status_code == 405
    assert {"PUT", "DELETE", "GET"} <= set(wrong.headers["Allow"].replace(" ", "").split(","))
    assert error_of(wrong)["code"] == "method_not_allowed"


# -- pagination -------------------------------------------------------------------------------


def _seed(server: RunningServer, names: list[str]) -> None:
    spec = RouteSpec.from_dict(SPEC)
    for name in names:
        server.store.create_route(name, spec, {}, {})


def _all_pages(client: httpx.Client, size: int) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        params = {"pageSize": str(size), **({"pageToken": token} if token else {})}
        body = client.get("/v1/routes", params=params).json()
        pages.append([item["name"] for item in body["items"]])
        token = body["nextPageToken"]
        if token is None:
            return pages


def test_pages_cover_every_route_once_in_order(client: httpx.Client, server: RunningServer) -> None:
    names = [f"r{i:03d}" for i in range(25)]
    _seed(server, names)
    pages = _all_pages(client, 10)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [n for page in pages for n in page] == names


def test_page_size_defaults_to_100(client: httpx.Client, server: RunningServer) -> None:
    _seed(server, [f"r{i:03d}" for i in range(101)])
    first = client.get("/v1/routes").json()
    assert len(first["items"]) == 100
    assert first["nextPageToken"] is not None
    assert len(client.get("/v1/routes", params={"pageSize": "1000"}).json()["items"]) == 101


@pytest.mark.parametrize("size", ["0", "1001", "-1", "ten", "1.5"])
def test_bad_page_sizes_are_400(client: httpx.Client, size: str) -> None:
    response = client.get("/v1/routes", params={"pageSize": size})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_page_size"


@pytest.mark.parametrize(
    "token", ["!!!", "zz", base64.urlsafe_b64encode(b"../x").decode(), "\u00e9"]
)
def test_bad_page_tokens_are_400(client: httpx.Client, token: str) -> None:
    response = client.get("/v1/routes", params={"pageToken": token})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_page_token"


def test_pages_stay_stable_while_routes_are_inserted(
    client: httpx.Client, server: RunningServer
) -> None:
    originals = [f"r{i:03d}" for i in range(0, 60, 2)]
    _seed(server, originals)
    seen: list[str] = []
    token: str | None = None
    inserted = 0
    while True:
        params = {"pageSize": "7", **({"pageToken": token} if token else {})}
        body = client.get("/v1/routes", params=params).json()
        seen.extend(item["name"] for item in body["items"])
        # Insert on both sides of the cursor between pages, as a concurrent writer would.
        for odd in (1 + 14 * inserted // 2, 59 - 14 * inserted // 2):
            name = f"r{odd:03d}"
            if server.store.get_route(name) is None:
                _seed(server, [name])
        inserted += 1
        token = body["nextPageToken"]
        if token is None:
            break
    assert len(seen) == len(set(seen)), "a route appeared twice"
    assert seen == sorted(seen)
    assert set(originals) <= set(seen), "a route that existed throughout was skipped"


# -- hostnames and status ---------------------------------------------------------------------


def test_hostnames_register_list_and_remove(client: httpx.Client) -> None:
    assert client.get("/v1/hostnames").json() == {"items": [], "mode": "any"}
    added = client.post("/v1/hostnames", json={"hostname": "Shop.ACME.org."})
    assert added.status_code == 201
    assert added.json()["hostname"] == "shop.acme.org"
    assert added.headers["Location"] == "/v1/hostnames/shop.acme.org"
    again = client.post("/v1/hostnames", json={"hostname": "shop.acme.org"})
    assert again.status_code == 409
    assert error_of(again)["code"] == "hostname_exists"
    listed = client.get("/v1/hostnames").json()["items"]
    assert [h["hostname"] for h in listed] == ["shop.acme.org"]
    assert listed[0]["createdAt"]
    assert client.delete("/v1/hostnames/shop.acme.org").status_code == 204
    missing = client.delete("/v1/hostnames/shop.acme.org")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "hostname_not_found"


@pytest.mark.parametrize(
    "body", [{"hostname": "no spaces.org"}, {"hostname": 7}, {"host": "a.org"}, ["a.org"]]
)
def test_bad_hostnames_are_422(client: httpx.Client, body: Any) -> None:
    response = client.post("/v1/hostnames", json=body)
    assert response.status_code == 422
    assert error_of(response)["details"][0]["pointer"] == "/hostname"


def test_unregistered_host_is_not_ready_in_registered_mode(
    client: httpx.Client, server: RunningServer
) -> None:
    server.store.set_hostname_mode("registered")
    assert client.get("/v1/hostnames").json()["mode"] == "registered"
    conditions = put(client, "shop").json()["status"]["conditions"]
    by_type = {c["type"]: c for c in conditions}
    assert by_type["HostValidation"]["status"] == "False"
    assert by_type["Ready"]["status"] == "False"
    assert by_type["Ready"]["reason"] == "HostnameNotRegistered"
    client.post("/v1/hostnames", json={"hostname": "shop.acme.org"})
    ready = {c["type"]: c for c in client.get("/v1/routes/shop").json()["status"]["conditions"]}
    assert ready["Ready"]["status"] == "True"


# -- concurrency ------------------------------------------------------------------------------


def test_concurrent_conditional_creates_have_one_winner(client: httpx.Client) -> None:
    statuses: list[int] = []
    lock = threading.Lock()

    def create() -> None:
        status = put(client, "race", **{"If-None-Match": "*"}).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [412] * 7


# -- hostile input --------------------------------------------------------------------------------


def lone_surrogates(document: Any) -> bytes:
    """JSON text of ``document`` with HIGH and LOW spelt as lone surrogate escapes."""
    return json.dumps(document).replace("HIGH", "\\ud800").replace("LOW", "\\udc00").encode()


@pytest.mark.parametrize(
    ("path", "document", "where"),
    [
        ("/v1/routes/shop", {"spec": {"host": "shop.acme.orgHIGH", "routes": []}}, "/spec/host"),
        ("/v1/routes/shop", {"spec": SPEC, "labels": {"team": "LOWHIGH"}}, "/labels/team"),
        ("/v1/routes/shop", {"spec": SPEC, "annotations": {"HIGHn": "x"}}, "/annotations"),
        ("/v1/routes/shop", {"spec": {"routes": [{"prefix": "/", "LOW": 1}]}}, "/spec/routes/0"),
        ("/v1/routes/shop", {"HIGH": 1}, ""),
        ("/v1/hostnames", {"hostname": "shopHIGH.acme.org"}, "/hostname"),
    ],
    ids=["spec-value", "label-value", "annotation-key", "spec-key", "top-key", "hostname"],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400_naming_where(
    client: httpx.Client, path: str, document: Any, where: str
) -> None:
    method = "POST" if path == "/v1/hostnames" else "PUT"
    response = client.request(
        method,
        path,
        content=lone_surrogates(document),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "malformed_json"
    assert "lone surrogate" in error["message"] and "UTF-8" in error["message"]
    assert [detail["pointer"] for detail in error["details"]] == [where]
    assert client.get("/v1/routes/shop").status_code == 404
    assert client.get("/v1/hostnames").json()["items"] == []


def test_a_surrogate_pair_is_one_character_and_accepted(client: httpx.Client) -> None:
    body = json.dumps({"spec": SPEC, "annotations": {"note": "PAIR"}})
    response = client.put(
        "/v1/routes/shop",
        content=body.replace("PAIR", "\\ud83d\\ude00").encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["annotations"] == {"note": "\N{GRINNING FACE}"}


def _answers_after_editing(
    db: Path, caplog: pytest.LogCaptureFixture, column: str, stored: str, *paths: str
) -> list[httpx.Response]:
    """Serve ``db``, store route shop, hand-edit one of its columns, then GET ``paths``."""
    with running_server(db) as server, httpx.Client(base_url=server.url) as http:
        assert http.put("/v1/routes/shop", json={"spec": SPEC}).status_code == 201
        edit = sqlite3.connect(db)
        edit.execute(f"UPDATE routes SET {column} = ? WHERE name = 'shop'", (stored,))
        edit.commit()
        edit.close()
        with caplog.at_level(logging.WARNING, logger="reconciler.server"):
            return [http.get(path) for path in paths]


@pytest.mark.parametrize("column", ["labels", "annotations"])
@pytest.mark.parametrize("stored", ["[1,2]", '"team"', "null", '{"team": 1}'])
def test_a_labels_row_of_the_wrong_json_type_is_a_json_store_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, column: str, stored: str
) -> None:
    db = tmp_path / "state.db"
    answers = _answers_after_editing(db, caplog, column, stored, "/v1/routes/shop", "/v1/routes")
    for answer in answers:
        assert answer.status_code == 500
        error = error_of(answer)
        assert error["code"] == "store_error"
        assert "'shop'" in error["message"] and str(db) in error["message"]
        assert f"{column} must be a JSON object of strings" in error["message"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback reached the server log"


@pytest.mark.parametrize(
    ("column", "stored"),
    [
        ("annotations", '{"note": "\\ud800"}'),
        ("spec", json.dumps(SPEC).replace("cart", "cart\\udc00")),
    ],
)
def test_a_row_with_a_lone_surrogate_is_a_json_store_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, column: str, stored: str
) -> None:
    db = tmp_path / "state.db"
    (answer,) = _answers_after_editing(db, caplog, column, stored, "/v1/routes/shop")
    assert answer.status_code == 500
    error = error_of(answer)
    assert error["code"] == "store_error"
    assert f"'shop' in {db} is unreadable ({column} holds a lone surrogate" in error["message"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback reached the server log"
