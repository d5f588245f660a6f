"""Per-client token-bucket rate limit for ``routes serve`` (``--rate-limit N``)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.server.wire import ApiError

MAX_CLIENTS = 10_000  # buckets kept before idle (full) ones are forgotten


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """One bucket per client: ``rate`` tokens a second, bursts up to ``burst``."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until a token is there."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= MAX_CLIENTS:
                    self._forget_idle(now)
                bucket = self._buckets[client] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        for client in [c for c, b in self._buckets.items() if now - b.stamp >= full_after]:
            del self._buckets[client]


class RateLimit:
    """ASGI middleware answering 429 with ``Retry-After`` when a client's bucket is empty."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, exempt: frozenset[str]) -> None:
        self.app = app
        self.buckets = buckets
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "unknown")
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        error = ApiError(
            429,
            "rate_limited",
            f"too many requests: this server allows {self.buckets.rate:g} a second per "
            f"client; retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
        response = JSONResponse(error.body(), error.status, headers=dict(error.headers))
        await response(scope, receive, send)
