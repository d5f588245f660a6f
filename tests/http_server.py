"""A real ``routes serve`` app on a loopback socket, in a thread, for tests and benchmarks.

Its store is a SQLite file or, given a ``postgresql://`` URL, a PostgreSQL database.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from reconciler.server.app import create_app
from reconciler.server.faults import FaultInjector, FaultPolicy
from reconciler.store import RouteStore, open_store


@dataclass(frozen=True)
class RunningServer:
    url: str
    store: RouteStore
    port: int
    faults: FaultInjector | None = None  # with ``faults=``: its policy and counters


@contextmanager
def running_server(
    db: Path | str,
    *,
    token: str | None = None,
    rate_limit: float | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    faults: FaultPolicy | None = None,
    wrap: Callable[[Any], Any] | None = None,
    **app_options: Any,
) -> Iterator[RunningServer]:
    """Serve a fresh app over ``db`` on 127.0.0.1 (a free port) until the block ends;
    ``wrap`` puts an ASGI middleware of the test's own around the app."""
    store = open_store(str(db))
    app: Any = create_app(store, token=token, rate_limit=rate_limit, **app_options)
    if wrap is not None:
        app = wrap(app)
    injector = FaultInjector(app, faults, token) if faults is not None else None
    # proto must say TCP, or asyncio leaves Nagle on and keep-alive requests stall 40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        injector or app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    scheme = "https" if ssl_certfile else "http"
    try:
        yield RunningServer(f"{scheme}://127.0.0.1:{port}", store, port, injector)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        store.close()


def without_batch_endpoint(app: Any) -> Any:
    """An older ``routes serve``: the batch path answers as any unknown path does (404)."""

    async def older(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/routes:batchWrite":
            scope = {**scope, "path": "/v1/routes:unknown", "raw_path": b"/v1/routes:unknown"}
        await app(scope, receive, send)

    return older
