"""Rows of the SQLite route store read back: a stored spec passes the one spec validation as
it is stored, before it is canonicalised, so a row edited by hand is refused, not misread."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.backends import open_backend
from reconciler.backends.options import BackendOptions, LocalOptions
from reconciler.errors import BackendError
from reconciler.model import RouteSpec
from reconciler.store import SqliteStore
from tests.backends.contract import ANNOTATIONS, LABELS, simple_spec
from tests.http_server import running_server

RULE = {"prefix": "/", "route": {"service": "cart"}}
GOOD = {"host": "shop.example.com", "routes": [RULE]}
HOSTILE = [
    ({**GOOD, "routes": [RULE, {**RULE, "route": {"service": "admin"}}]}, "R020"),
    ({**GOOD, "routes": [{**RULE, "rewrite": "/evil"}]}, "R013"),
    ({**GOOD, "routes": [{**RULE, "route": {"service": 5}}]}, "R015"),
    ({**GOOD, "routes": [{**RULE, "enableWebsockets": "false"}]}, "R015"),
    (
        {**GOOD, "corsPolicy": {"allowOrigins": ["https://a.org"], "allowMethods": ["po\u017ft"]}},
        "R024",
    ),
]
IDS = ["duplicate-prefixes", "unknown-field", "service-5", "websockets-string", "long-s-method"]


def edit_row(db: Path, column: str, value: Any) -> None:
    """Change one column of route ``shop`` behind the store's back, as a hand edit would."""
    edit = sqlite3.connect(db)
    edit.execute(f"UPDATE routes SET {column} = ? WHERE name = 'shop'", (value,))
    edit.commit()
    edit.close()


@pytest.mark.parametrize(("spec", "code"), HOSTILE, ids=IDS)
def test_a_stored_spec_routes_validate_refuses_is_unreadable(
    tmp_path: Path, spec: dict[str, Any], code: str
) -> None:
    store = SqliteStore(tmp_path / "state.db")
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    edit_row(store.path, "spec", json.dumps(spec))
    for read in (store.list_routes, lambda: store.get_route("shop")):
        with pytest.raises(BackendError) as caught:
            read()
        message = caught.value.message
        assert f"route 'shop' in {store.path} is unreadable (spec refused: {code} at /" in message
        assert caught.value.hint and "backup" in caught.value.hint
    store.close()


@pytest.mark.parametrize(("spec", "code"), HOSTILE[:2], ids=IDS[:2])
def test_the_local_backend_refuses_it_with_its_code(
    tmp_path: Path, spec: dict[str, Any], code: str
) -> None:
    options = BackendOptions(local=LocalOptions(tmp_path))
    backend = open_backend("local:state.db", options)
    backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    edit_row(tmp_path / "state.db", "spec", json.dumps(spec))
    with pytest.raises(BackendError, match=f"spec refused: {code}"):
        backend.list_routes()
    backend.close()


@pytest.mark.parametrize(("spec", "code"), HOSTILE[:2], ids=IDS[:2])
def test_the_server_answers_a_store_error_with_its_code(
    tmp_path: Path, spec: dict[str, Any], code: str
) -> None:
    db = tmp_path / "state.db"
    with running_server(db) as server, httpx.Client(base_url=server.url) as http:
        assert http.put("/v1/routes/shop", json={"spec": GOOD}).status_code == 201
        edit_row(db, "spec", json.dumps(spec))
        answers = [http.get("/v1/routes/shop"), http.get("/v1/routes")]
    for answer in answers:
        assert answer.status_code == 500
        error = answer.json()["error"]
        assert error["code"] == "store_error"
        assert f"'shop' in {db} is unreadable (spec refused: {code}" in error["message"]


def test_an_error_the_canonical_form_shows_is_left_to_the_reader(tmp_path: Path) -> None:
    # As an older release may have stored it: the row reads, and the route check judges it.
    spec = {**GOOD, "host": "*.example.com"}
    backend = open_backend("local:state.db", BackendOptions(local=LocalOptions(tmp_path)))
    backend.create_route("legacy", RouteSpec.from_dict(spec), {}, {})
    backend.create_route("shop", RouteSpec.from_dict(spec), LABELS, ANNOTATIONS)
    store = SqliteStore(tmp_path / "state.db")
    assert [route.name for route in store.list_routes()] == ["legacy", "shop"]
    store.close()
    with pytest.raises(BackendError, match="R027"):
        backend.get_route("shop")
    backend.close()


def test_a_valid_stored_spec_is_checked_once_and_cached(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    first, second = store.get_route("shop"), store.get_route("shop")
    assert first is not None and second is not None and first.spec is second.spec
    store.close()


@pytest.mark.parametrize("column", ["created_at", "updated_at"])
def test_a_timestamp_that_is_not_text_is_unreadable_not_a_crash(
    tmp_path: Path, column: str
) -> None:
    store = SqliteStore(tmp_path / "state.db")
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    edit_row(store.path, column, b"\x00")
    with pytest.raises(BackendError, match=f"{column} is not text"):
        store.list_routes()
    store.close()


def test_a_name_that_is_not_text_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    edit_row(store.path, "name", b"shop")
    with pytest.raises(BackendError, match="name is not text"):
        store.list_routes()
    store.close()
