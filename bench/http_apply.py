"""Routes applied per second through ``routes serve``: the library applier vs a bare loop.

Both sides run the same creates (1,000 by default; the goal is stated at 10,000) at the same
concurrency (10) against a fresh server in a child process on loopback. The bare loop sends
one conditional PUT per route; the applier sends its writes through the batch endpoint
(``POST /v1/routes:batchWrite``, 50 conditional writes a request, one store transaction
each), which is how it gets past the server's per-request cost.

    python bench/http_apply.py [--routes 10000] [--parallelism 10]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.http.client import HttpBackend
from reconciler.model import DesiredRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.planner import PlanOptions, make_plan

TOKEN = "bench-token"


def spec(i: int) -> RouteSpec:
    return RouteSpec.from_dict(
        {"host": f"r{i}.bench.test", "routes": [{"prefix": "/", "route": {"service": "web"}}]}
    )


@contextmanager
def server(folder: Path, db: Path | None = None) -> Iterator[str]:
    """A ``routes serve`` in a child process (a fresh store, or ``db``); its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = "from reconciler.cli import serve; serve()"
    store = db or folder / f"{port}.db"
    args = [sys.executable, "-c", code, "--db", str(store), "--port", str(port)]
    env = {**os.environ, "ROUTES_SERVER_TOKEN": TOKEN}
    process = subprocess.Popen([*args, "--no-access-log"], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def library_apply(url: str, count: int, parallelism: int) -> float:
    routes = RouteSet(
        {
            f"r{i:05d}": DesiredRoute(f"r{i:05d}", spec(i), SourceLocation("b.yaml"))
            for i in range(count)
        }
    )
    backend = HttpBackend(url, token=TOKEN)
    options = PlanOptions(owner="bench", backend_url=url, tool_version="bench")
    plan = make_plan(routes, backend.list_routes(), options)
    specs = {name: route.spec for name, route in routes.items()}
    started = time.perf_counter()
    result = apply_plan(plan, backend, specs, ApplyOptions(parallelism=parallelism))
    elapsed = time.perf_counter() - started
    backend.close()
    assert result.count("applied") == count, result.summary()
    return count / elapsed


def bare_puts(url: str, count: int, parallelism: int, *, read_first: bool = False) -> float:
    """Conditional creates from ``parallelism`` threads; ``read_first``: GET each route first,
    as the applier does, to tell the cost of that read from the library's own overhead."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    with httpx.Client(base_url=url, headers=headers, limits=limits) as client:

        def put(i: int) -> int:
            if read_first:
                client.get(f"/v1/routes/r{i:05d}")
            body = {"spec": spec(i).to_dict(), "labels": {"managed-by": "routes"}}
            create = {"If-None-Match": "*"}
            return client.put(f"/v1/routes/r{i:05d}", json=body, headers=create).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(parallelism) as pool:
            statuses = list(pool.map(put, range(count)))
        elapsed = time.perf_counter() - started
    assert statuses == [201] * count
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians")
    args = parser.parse_args()
    bare: list[float] = []
    read_then_put: list[float] = []
    library: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Alternate the two on fresh servers so machine noise hits both alike.
        for _ in range(args.rounds):
            with server(Path(tmp)) as url:
                bare.append(bare_puts(url, args.routes, args.parallelism))
            with server(Path(tmp)) as url:
                read_then_put.append(bare_puts(url, args.routes, args.parallelism, read_first=True))
            with server(Path(tmp)) as url:
                library.append(library_apply(url, args.routes, args.parallelism))
    b, lib = statistics.median(bare), statistics.median(library)
    print(f"{args.routes} creates, parallelism {args.parallelism}, {args.rounds} rounds (median)")
    print(f"bare conditional PUTs : {b:8.1f} routes/s  {_spread(bare)}")
    print(
        f"bare GET + PUT        : {statistics.median(read_then_put):8.1f} routes/s  "
        f"{_spread(read_then_put)}  (the applier's read-before-write, without the library)"
    )
    print(f"library apply_plan    : {lib:8.1f} routes/s  {_spread(library)}")
    print(f"ratio                 : {lib / b:8.2f} (goal >= 0.9)")
    print(f"ratio to GET + PUT    : {lib / statistics.median(read_then_put):8.2f}")


def _spread(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:.0f}" for v in values) + ")"


if __name__ == "__main__":
    main()
