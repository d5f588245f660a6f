"""The descriptor cache, measured: ``python -m bench.cache [--routes N ...] [--runs R]``.

For each N: a generated repository applied to its local store, then ``routes plan`` with
the cache warm (nothing changed), cold (the cache file removed before each run, so each
run parses and writes it), and with 1 % of the files changed since the cache was written;
each against the libyaml parse floor of the same files, run by run alternately, medians.
Goals: warm ≤ 0.5, cold ≤ 1.15, 1 % changed ≤ 0.6. The cold plan is also shown with the
load on one process (``ROUTES_LOAD_WORKERS=1``), as a one-CPU machine runs it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.__main__ import routes_executable
from bench.gen import change_routes, generate_repo
from bench.measure import FLOOR_CODE, Row, Run, run_child, table

GOALS = {"warm": 0.5, "cold": 1.15, "1 % changed": 0.6}


def _alternate(
    prepare: Callable[[], None], ours: Sequence[str], repo: Path, runs: int
) -> tuple[list[Run], list[Run]]:
    floor = [sys.executable, "-c", FLOOR_CODE, str(repo / "routes")]
    mine, base = [], []
    for _ in range(runs):
        prepare()  # the floor reads the very files the run will (the changed copy exists)
        base.append(run_child(floor, repo))
        prepare()
        mine.append(run_child(ours, repo))
    return mine, base


def rows_for(folder: Path, n: int, runs: int) -> list[Row]:
    routes = routes_executable()
    repo = folder / f"repo-{n}"
    generate_repo(repo, n)
    run_child([routes, "apply", "--auto-approve"], repo)
    cache = repo / ".routes" / "cache"
    plan = [routes, "plan"]
    run_child(plan, repo)  # warm the cache

    def nothing() -> None:
        return None

    def drop_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    changed_copy = folder / f"changed-{n}"

    def changed() -> None:
        # The warm cache of the unchanged tree, then 1 % of the files edited.
        shutil.rmtree(changed_copy / "routes", ignore_errors=True)
        shutil.copytree(repo / "routes", changed_copy / "routes")
        shutil.rmtree(changed_copy / ".routes", ignore_errors=True)
        shutil.copytree(repo / ".routes", changed_copy / ".routes")
        change_routes(changed_copy, max(1, n // 100))

    changed_copy.mkdir()
    shutil.copy(repo / ".routes.yaml", changed_copy / ".routes.yaml")
    # The cold plan as one CPU runs it: a load parses on every usable CPU by default.
    one_process = ["env", "ROUTES_LOAD_WORKERS=1", routes, "plan"]
    rows = []
    for label, command, prepare, where in (
        ("warm", plan, nothing, repo),
        ("cold", plan, drop_cache, repo),
        ("cold, one process", one_process, drop_cache, repo),
        ("1 % changed", plan, changed, changed_copy),
    ):
        mine, base = _alternate(prepare, command, where, runs)
        if label.startswith("cold"):
            run_child(plan, repo)  # leave it warm
        ours = statistics.median(r.seconds for r in mine)
        floor = statistics.median(r.seconds for r in base)
        ratio = ours / floor
        rows.append(
            Row(
                f"`routes plan`, cache {label}, local",
                n,
                f"{ours:.2f} s",
                f"{floor:.2f} s (libyaml parse)",
                f"{ratio:.2f}",
                f"≤ {GOALS[label]}" if label in GOALS else "—",
                ratio <= GOALS[label] if label in GOALS else None,
                max(r.peak_mib for r in mine),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cache")
    parser.add_argument("--routes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="routes-bench-cache-") as tmp:
        for n in args.routes:
            rows += rows_for(Path(tmp), n, args.runs)
            print(table(rows), flush=True)


if __name__ == "__main__":
    main()
