"""The fault injector of ``routes serve --faults``: writes counted once, off by default."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.server.faults import FaultPolicy
from tests.http_server import running_server

SPEC = {"host": "shop.acme.org", "routes": [{"prefix": "/", "route": {"service": "cart"}}]}


def test_stats_count_writes_once_even_when_the_answer_is_lost(tmp_path: Path) -> None:
    policy = FaultPolicy(rate=1.0, kinds=("drop",))
    with running_server(tmp_path / "state.db", token="t", faults=policy) as server:
        auth = {"Authorization": "Bearer t"}
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.put(f"{server.url}/v1/routes/shop", json={"spec": SPEC}, headers=auth)
        assert server.store.get_route("shop") is not None, "the write happened"
        assert httpx.get(f"{server.url}/v1/_stats").status_code == 401
        stats = httpx.get(f"{server.url}/v1/_stats", headers=auth).json()
    assert stats["writes"] == {"shop": 1}
    assert stats["faults"] == {"drop": 1}
    assert stats["requests"] == 1


def test_without_faults_there_is_no_stats_endpoint(tmp_path: Path) -> None:
    with running_server(tmp_path / "state.db") as server:
        answer = httpx.get(f"{server.url}/v1/_stats")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
