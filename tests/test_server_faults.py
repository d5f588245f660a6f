"""The fault injector of ``routes serve --faults``: deterministic, counted, off by default."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import serve
from reconciler.commands.serve import fault_policy
from reconciler.errors import UsageError
from reconciler.server.faults import FAULT_KINDS, FaultPolicy, parse_kinds
from tests.http_server import running_server

SPEC = {"host": "shop.acme.org", "routes": [{"prefix": "/", "route": {"service": "cart"}}]}


def decisions(policy: FaultPolicy, count: int = 2000) -> list[str | None]:
    return [policy.decide("PUT", "/v1/routes/shop", serial) for serial in range(count)]


def test_the_same_seed_gives_the_same_faults_and_another_seed_others() -> None:
    assert decisions(FaultPolicy(seed=7, rate=0.2)) == decisions(FaultPolicy(seed=7, rate=0.2))
    assert decisions(FaultPolicy(seed=7, rate=0.2)) != decisions(FaultPolicy(seed=8, rate=0.2))


def test_the_rate_and_the_kinds_are_honoured() -> None:
    seen = Counter(decisions(FaultPolicy(seed=1, rate=0.2), 5000))
    assert 0.17 < 1 - seen[None] / 5000 < 0.23
    assert set(seen) - {None} == set(FAULT_KINDS)
    only = Counter(decisions(FaultPolicy(seed=1, rate=1.0, kinds=("drop",)), 200))
    assert only == {"drop": 200}
    assert set(decisions(FaultPolicy(seed=1, rate=0.0))) == {None}


def test_health_is_exempt_and_a_failing_route_always_fails() -> None:
    policy = FaultPolicy(rate=1.0, failing_routes=frozenset({"doomed"}))
    assert policy.decide("GET", "/healthz", 0) is None
    assert policy.decide("GET", "/v1/routes/doomed", 9) == "always"


def test_bad_fault_flags_are_usage_errors() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        parse_kinds("500,teapot")
    with pytest.raises(UsageError, match="teapot"):
        fault_policy(0.1, 0, "teapot", 0.5, ())
    assert fault_policy(None, 0, "500", 0.5, ()) is None, "off unless asked for"
    result = CliRunner().invoke(serve, ["--faults", "1.5"])
    assert result.exit_code == 2 and "1.5" in result.output


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
