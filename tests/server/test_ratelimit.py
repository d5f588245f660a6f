"""The per-client rate limit of ``routes serve --rate-limit N``: 429 with Retry-After."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.server.ratelimit import TokenBuckets
from tests.http_server import running_server
from tests.server.support import error_of

# -- rate limit -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    clock = FakeClock()
    with (
        running_server(tmp_path / "rl.db", rate_limit=2, clock=clock) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        assert [http.get("/v1/routes").status_code for _ in range(2)] == [200, 200]
        limited = http.get("/v1/routes")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert error_of(limited)["code"] == "rate_limited"
        assert http.get("/healthz").status_code == 200  # probes are never limited
        clock.now += 0.5  # half a second refills one token at 2/s
        assert http.get("/v1/routes").status_code == 200
        assert http.get("/v1/routes").status_code == 429


def test_token_buckets_are_per_client_and_refill() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(0.5, clock=clock)
    assert buckets.take("client-a") == 0
    assert buckets.take("client-a") == pytest.approx(2.0)
    assert buckets.take("client-b") == 0
    clock.now += 2.0
    assert buckets.take("client-a") == 0
