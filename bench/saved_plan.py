"""What re-deriving costs: ``routes apply plan.json`` against ``routes apply`` of the same
descriptors, both creating N routes in an empty local store.

``python -m bench.saved_plan [--routes N] [--runs R]`` prints one table row. A saved plan's
apply reads the descriptors again, plans again against the live routes and compares the
two plans before it writes; the plain apply plans once and writes. Goal: at most 1.2x.
The two alternate run by run, so machine noise lands on both sides; medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.__main__ import routes_executable
from bench.gen import generate_repo
from bench.measure import Row, run_child, table

GOAL = 1.2


def measure(n: int, runs: int) -> Row:
    routes = routes_executable()
    with tempfile.TemporaryDirectory(prefix="routes-bench-saved-") as tmp:
        repo = Path(tmp) / "repo"
        generate_repo(repo, n)
        state = repo / ".routes"
        saved_runs, plain_runs = [], []
        for _ in range(runs):
            shutil.rmtree(state, ignore_errors=True)
            run_child([routes, "plan", "--out", str(repo / "plan.json")], repo)
            shutil.rmtree(state, ignore_errors=True)  # plan --out made the folder only
            saved_runs.append(run_child([routes, "apply", "plan.json"], repo))
            shutil.rmtree(state, ignore_errors=True)
            plain_runs.append(run_child([routes, "apply", "--auto-approve"], repo))
    saved = statistics.median(r.seconds for r in saved_runs)
    plain = statistics.median(r.seconds for r in plain_runs)
    ratio = saved / plain
    return Row(
        "`routes apply plan.json` (re-derived), creates, local",
        n,
        f"{saved:.2f} s",
        f"{plain:.2f} s (`routes apply --auto-approve`)",
        f"{ratio:.2f}",
        f"≤ {GOAL}",
        ratio <= GOAL,
        max(r.peak_mib for r in saved_runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.saved_plan")
    parser.add_argument("--routes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(table([measure(args.routes, args.runs)]))


if __name__ == "__main__":
    main()
