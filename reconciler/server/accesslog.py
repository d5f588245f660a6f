"""The access log of ``routes serve``: method, path, status, duration. Never headers."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.quoting import clean

LOGGER = logging.getLogger("reconciler.server.access")


class AccessLog:
    """ASGI middleware logging one line per request. The query string and headers (and so
    the bearer token) are left out on purpose."""

    def __init__(self, app: ASGIApp, logger: logging.Logger = LOGGER) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            millis = (time.perf_counter() - started) * 1000
            # The path arrives percent-decoded: %0A or %1B must not forge or colour a line.
            path, method = clean(scope["path"]), clean(scope["method"])
            self.logger.info("%s %s %d %.1fms", method, path, status, millis)

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log()  # before the last byte leaves: whoever got the answer sees the line
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            if not logged:
                log()
