"""Fault injection for ``routes serve --faults RATE``: a testing aid, off by default.

``FaultInjector`` wraps the whole ASGI app (outside every middleware, so it sees uvicorn's
own connection) and, for a share ``rate`` of requests, misbehaves the way real control
planes and proxies do. What a request meets is decided by a hash of the seed, the method,
the path and how many times that method and path were asked before, so the same seed
gives the same faults whatever order concurrent requests arrive in (``FaultPolicy``, in
``options.py``, decides; this module only acts).

Kinds: ``502``, ``503`` and ``429`` (with ``Retry-After``) answer without reaching the
store, as an overloaded proxy does. ``500`` and ``drop`` let the request run, then lose
the answer (a 500, or the connection closed without a word): the write may well have
happened, which is what makes a client's retry dangerous. ``slow`` answers late.

With faults on, ``GET /v1/_stats`` counts requests, faults and the writes each route got,
so a test can tell that no route was written twice.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.server.auth import bearer_of, token_matches
from reconciler.server.options import (
    FAULT_KINDS,
    ROUTE_PREFIX,
    STATS_PATH,
    FaultPolicy,
    parse_kinds,
)

__all__ = ["FAULT_KINDS", "STATS_PATH", "FaultInjector", "FaultPolicy", "parse_kinds"]

_WRITE_OK = {"PUT": (200, 201), "DELETE": (204,)}
BATCH_PATH = "/v1/routes:batchWrite"


class FaultInjector:
    """ASGI wrapper injecting the faults of ``policy`` and counting what happened."""

    def __init__(self, app: ASGIApp, policy: FaultPolicy, token: str | None = None) -> None:
        self.app = app
        self.token = token
        self.policy = policy  # replaceable: a test turns the faults off mid-run
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self._serials: Counter[tuple[str, str]] = Counter()

    def stats(self) -> dict[str, Any]:
        """Requests seen, faults injected by kind, successful writes per route."""
        return {
            "requests": self.requests,
            "faults": dict(sorted(self.faults.items())),
            "faultsTotal": sum(self.faults.values()),
            "writes": dict(sorted(self.writes.items())),
            "writesTotal": sum(self.writes.values()),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if path == STATS_PATH and method == "GET":
            if self._authorized(scope):
                await _send_json(send, 200, self.stats())
            else:
                await _send_error(send, 401, "unauthorized", "send Authorization: Bearer <token>")
            return
        self.requests += 1
        key = (method, path)
        serial = self._serials[key]
        self._serials[key] += 1
        kind = self.policy.decide(method, path, serial)
        if kind is not None:
            self.faults[kind] += 1
        if kind == "always":
            await _send_error(
                send, 503, "injected_fault", "injected fault: this route always fails"
            )
        elif kind in ("502", "503"):
            await _send_error(send, int(kind), "injected_fault", f"injected fault: HTTP {kind}")
        elif kind == "429":
            seconds = str(self.policy.retry_after)
            await _send_error(
                send, 429, "rate_limited", "injected fault: too many requests", seconds
            )
        elif kind in ("500", "drop"):
            status = await self._run_unheard(scope, receive, method, path)
            if kind == "500":
                await _send_error(
                    send, 500, "injected_fault", f"injected fault: HTTP 500 (was {status})"
                )
            else:
                await _drop(send)
        else:
            if kind == "slow":
                await asyncio.sleep(self.policy.slow_seconds)
            if path == BATCH_PATH and self.policy.failing_routes:
                await self._batch_with_failing_routes(scope, receive, send)
            else:
                await self.app(scope, receive, self._counting(send, method, path))

    def _authorized(self, scope: Scope) -> bool:
        if self.token is None:
            return True
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        presented = bearer_of(header)
        return presented is not None and token_matches(presented, self.token)

    async def _run_unheard(self, scope: Scope, receive: Receive, method: str, path: str) -> int:
        """Run the request for real and swallow its answer; its status is returned."""
        status = 0

        async def swallow(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])

        await self.app(scope, receive, self._counting(swallow, method, path))
        return status

    async def _batch_with_failing_routes(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A batch whose items for ``failing_routes`` answer 503 each, the rest written."""
        body = await _body_of(receive)
        try:
            writes = json.loads(body)["writes"]
            failing = {
                index
                for index, item in enumerate(writes)
                if item.get("name") in self.policy.failing_routes
            }
        except (ValueError, TypeError, KeyError, AttributeError):
            failing = set()
        if not failing:
            await self.app(scope, _replay(body), self._counting(send, "POST", BATCH_PATH))
            return
        rest = [item for index, item in enumerate(writes) if index not in failing]
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        forwarded = json.dumps({"writes": rest}).encode("utf-8")
        await self.app(scope, _replay(forwarded), self._counting(keep, "POST", BATCH_PATH))
        start, chunks = answer[0], b"".join(m.get("body", b"") for m in answer[1:])
        if start["status"] != 200:
            await _send_json(send, start["status"], json.loads(chunks or b"{}"))
            return
        results = iter(json.loads(chunks)["results"])
        merged = []
        for index, item in enumerate(writes):
            if index in failing:
                self.faults["always"] += 1
                error = {"code": "injected_fault", "details": []}
                error["message"] = "injected fault: this route always fails"
                merged.append({"name": item["name"], "status": 503, "error": error})
            else:
                merged.append(next(results))
        await _send_json(send, 200, {"results": merged})

    def _counting(self, send: Send, method: str, path: str) -> Send:
        if path == BATCH_PATH:
            return self._counting_batch(send)

        async def counted(message: Message) -> None:
            if (
                message["type"] == "http.response.start"
                and path.startswith(ROUTE_PREFIX)
                and message["status"] in _WRITE_OK.get(method, ())
            ):
                self.writes[path[len(ROUTE_PREFIX) :]] += 1
            await send(message)

        return counted

    def _counting_batch(self, send: Send) -> Send:
        """Counts the writes of a batch from its answer: each item written, per route."""
        status = 0
        chunks: list[bytes] = []

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status == 200:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    for result in json.loads(b"".join(chunks)).get("results", []):
                        if result.get("status") in (200, 201, 204):
                            self.writes[str(result.get("name"))] += 1
            await send(message)

        return counted


async def _body_of(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A ``receive`` that hands the app ``body`` (already read), then waits as uvicorn's does."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # pragma: no cover - the app never asks twice
        return {"type": "http.disconnect"}

    return receive


async def _drop(send: Send) -> None:
    """Close the connection without an answer (uvicorn's cycle holds the transport)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:  # another server: the nearest thing is a bad gateway
        await _send_error(send, 502, "injected_fault", "injected fault: connection dropped")
        return
    transport.close()
    for _ in range(3):  # let connection_lost run, so uvicorn knows nobody listens
        await asyncio.sleep(0)


async def _send_error(
    send: Send, status: int, code: str, message: str, retry_after: str | None = None
) -> None:
    body = {"error": {"code": code, "message": message, "details": []}}
    await _send_json(send, status, body, retry_after)


async def _send_json(
    send: Send, status: int, document: Any, retry_after: str | None = None
) -> None:
    payload = json.dumps(document).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode("ascii")),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
