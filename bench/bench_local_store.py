"""How long the local store takes to list 10,000 routes of 8 paths each (DESIGN: well under 1 s).

Run: python bench/bench_local_store.py [ROUTES]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from reconciler.backends.local import LocalStore
from reconciler.backends.local_sql import dumps
from reconciler.model import RouteSpec


def seed(store: LocalStore, count: int) -> None:
    """Write ``count`` distinct routes in one transaction (the write path is not measured)."""

    def write(conn: object) -> None:
        for i in range(count):
            spec = RouteSpec.from_dict(
                {
                    "host": f"host-{i}.example.com",
                    "corsPolicy": {"allowOrigins": [f"https://app-{i}.example.com"]},
                    "routes": [
                        {"prefix": f"/p{i}/{j}", "route": {"service": f"svc-{j}"}} for j in range(8)
                    ],
                }
            )
            conn.execute(  # type: ignore[attr-defined]
                "INSERT INTO routes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    f"route-{i:05d}",
                    dumps(spec.to_dict()),
                    '{"managed-by":"routes"}',
                    "{}",
                    i + 1,
                    "2024-01-01T00:00:00Z",
                    "2024-01-01T00:00:00Z",
                ),
            )

    store._write(write)  # bulk seeding through the private writer: benchmark only


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        seeder = LocalStore(Path(folder) / "state.db")
        seed(seeder, count)
        seeder.close()
        store = LocalStore(Path(folder) / "state.db")
        for label in ("cold", "warm (parsed specs cached)"):
            start = time.perf_counter()
            routes = store.list_routes()
            elapsed = time.perf_counter() - start
            print(f"list_routes {label}: {len(routes)} routes in {elapsed:.3f} s")
        store.close()


if __name__ == "__main__":
    main()
