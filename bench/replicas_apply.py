"""Apply of 1,000 routes through two ``routes serve`` replicas on PostgreSQL vs one over SQLite.

Each round applies the same 1,000 creates with the library applier (parallelism 10) into a
fresh store: one ``routes serve`` over a SQLite file; one over a PostgreSQL database; two
over one PostgreSQL database behind a round-robin TCP balancer on loopback. The cluster is
a throwaway one (``tests/pg_cluster.py``: initdb in a temp folder). Rounds alternate, medians.

    python -m bench.replicas_apply [--routes 1000] [--parallelism 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.http_apply import TOKEN, library_apply, server
from tests.pg_cluster import Cluster, start_cluster
from tests.reliability.balancer import balanced
from tests.reliability.support import replicas


def through_replicas(cluster: Cluster, count: int, routes: int, parallelism: int) -> float:
    """Routes per second applied through ``count`` replicas over one fresh database."""
    with replicas(cluster, TOKEN, "--no-access-log", count=count) as (_, running):
        urls = [url for _, url in running]
        if count == 1:
            return library_apply(urls[0], routes, parallelism)
        with balanced(urls) as (url, _):
            return library_apply(url, routes, parallelism)


def measure(routes: int, parallelism: int, rounds: int) -> dict[str, list[float]]:
    """Routes per second of each setup, one value per round (rounds alternate setups)."""
    results: dict[str, list[float]] = {SQLITE: [], ONE: [], TWO: []}
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(rounds):
                with server(Path(tmp)) as url:
                    results[SQLITE].append(library_apply(url, routes, parallelism))
                results[ONE].append(through_replicas(cluster, 1, routes, parallelism))
                results[TWO].append(through_replicas(cluster, 2, routes, parallelism))
    finally:
        cluster.stop()
    return results


SQLITE = "one routes serve over SQLite"
ONE = "one routes serve over PostgreSQL"
TWO = "two replicas over one PostgreSQL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians")
    args = parser.parse_args()
    results = measure(args.routes, args.parallelism, args.rounds)
    base = statistics.median(results[SQLITE])
    print(f"{args.routes} creates, parallelism {args.parallelism}, {args.rounds} rounds (median)")
    for label, values in results.items():
        median = statistics.median(values)
        spread = ", ".join(f"{v:.0f}" for v in values)
        print(
            f"{label:34}: {median:7.1f} routes/s  ({spread})  ratio to SQLite {median / base:.2f}"
        )


if __name__ == "__main__":
    main()
