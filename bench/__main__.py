"""The performance goals, measured: ``python -m bench [--quick]`` prints the result table.

Every CLI scenario runs ``routes`` as a child process and its floor as a child process too,
alternating, so interpreter startup and machine noise land on both sides. Ratios are
medians of the same run on the same machine. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench import http_apply, replicas_apply
from bench.gen import change_routes, generate_repo
from bench.measure import (
    FLOOR_CODE,
    Row,
    growth_exponent,
    interleaved,
    median_seconds,
    peak,
    repeated,
    run_child,
    table,
)

PLAN_PEAK_MIB = 300


def routes_executable() -> str:
    """The ``routes`` console script of this interpreter (not a shell shim in front of it)."""
    script = Path(sysconfig.get_path("scripts")) / "routes"
    found = str(script) if script.exists() else shutil.which("routes")
    if found is None:
        raise SystemExit("no `routes` executable: pip install -e '.[test]' first")
    return found


def compared(
    scenario: str, n: int, ours: Sequence[str], repo: Path, runs: int, goal: float
) -> tuple[Row, float]:
    """``ours`` against the libyaml floor on ``repo``; the row and our median seconds."""
    floor = [sys.executable, "-c", FLOOR_CODE, str(repo / "routes")]
    mine, base = interleaved(ours, floor, repo, runs)
    ratio = median_seconds(mine) / median_seconds(base)
    row = Row(
        scenario,
        n,
        f"{median_seconds(mine):.2f} s",
        f"{median_seconds(base):.2f} s (libyaml parse)",
        f"{ratio:.2f}",
        f"≤ {goal}",
        ratio <= goal,
        peak(mine),
    )
    return row, median_seconds(mine)


def applied_repo(folder: Path, n: int, routes: str) -> tuple[Path, Row]:
    """A generated repo of ``n`` routes, applied to its local backend; the apply's row."""
    repo = folder / f"repo-{n}"
    generate_repo(repo, n)
    run = run_child([routes, "apply", "--auto-approve"], repo)
    row = Row(
        "`routes apply --auto-approve`, creates, local backend",
        n,
        f"{run.seconds:.2f} s",
        "—",
        "—",
        "—",
        None,
        run.peak_mib,
    )
    return repo, row


def cli_rows(folder: Path, n: int, sizes: Sequence[int], runs: int) -> list[Row]:
    routes = routes_executable()
    rows: list[Row] = []
    repo = folder / "validate"
    generate_repo(repo, n)
    rows.append(compared("`routes validate`", n, [routes, "validate"], repo, runs, 1.3)[0])
    plan_times: dict[int, float] = {}
    repo, apply_row = applied_repo(folder, n, routes)
    row, plan_times[n] = compared(
        "`routes plan`, all unchanged, local", n, [routes, "plan"], repo, runs, 1.5
    )
    rows += [apply_row, row, _memory_row(n, row.peak_mib or 0.0)]
    for size in sizes:
        if size != n:
            small, _ = applied_repo(folder, size, routes)
            plan_times[size] = median_seconds(repeated([routes, "plan"], small, runs))
    changed = change_routes(repo, max(1, n // 100))
    label = f"`routes plan`, {len(changed)} routes (1 %) changed"
    rows.append(compared(label, n, [routes, "plan"], repo, runs, 1.6)[0])
    rows.append(_scaling_row(plan_times))
    version_runs, pass_runs = interleaved(
        [routes, "--version"], [sys.executable, "-c", "pass"], folder, runs * 2
    )
    ratio = median_seconds(version_runs) / median_seconds(pass_runs)
    rows.append(
        Row(
            "`routes --version`",
            1,
            f"{median_seconds(version_runs) * 1000:.0f} ms",
            f"{median_seconds(pass_runs) * 1000:.0f} ms (python -c pass)",
            f"{ratio:.2f}",
            "≤ 3",
            ratio <= 3,
            peak(version_runs),
        )
    )
    return rows


def _memory_row(n: int, peak_mib: float) -> Row:
    return Row(
        "peak RSS of that plan",
        n,
        f"{peak_mib:.0f} MiB",
        "—",
        "—",
        f"≤ {PLAN_PEAK_MIB} MiB",
        peak_mib <= PLAN_PEAK_MIB,
        peak_mib,
    )


def _scaling_row(plan_times: dict[int, float]) -> Row:
    points = sorted(plan_times.items())
    exponent = growth_exponent(points)
    return Row(
        "`routes plan` growth: b in log t = a + b log n",
        points[-1][0],
        ", ".join(f"{t:.2f} s" for _, t in points),
        "at N = " + ", ".join(f"{n:,}" for n, _ in points),
        f"b = {exponent:.2f}",
        "linear (b ≈ 1)",
        exponent <= 1.15,
        None,
    )


def http_row(count: int, rounds: int, parallelism: int = 10) -> Row:
    """Library apply over ``routes serve`` vs a bare conditional-PUT loop, fresh servers."""
    bare: list[float] = []
    library: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            with http_apply.server(Path(tmp)) as url:
                bare.append(http_apply.bare_puts(url, count, parallelism))
            with http_apply.server(Path(tmp)) as url:
                library.append(http_apply.library_apply(url, count, parallelism))
    ratio = statistics.median(library) / statistics.median(bare)
    return Row(
        f"apply over http, creates, parallelism {parallelism} (throughput)",
        count,
        f"{statistics.median(library):.0f} routes/s",
        f"{statistics.median(bare):.0f} routes/s (bare PUT loop)",
        f"{ratio:.2f}",
        "≥ 0.9",
        ratio >= 0.9,
        None,
    )


def replicas_row(count: int, rounds: int, parallelism: int = 10) -> Row | None:
    """Library apply through two replicas on PostgreSQL vs one server over SQLite; None
    (said on stdout) where this machine has no PostgreSQL."""
    import pytest

    try:
        results = replicas_apply.measure(count, parallelism, rounds)
    except pytest.skip.Exception as skipped:
        print(f"two-replica row left out: {skipped}", flush=True)
        return None
    two = statistics.median(results[replicas_apply.TWO])
    sqlite = statistics.median(results[replicas_apply.SQLITE])
    return Row(
        f"apply over http, creates, two replicas on PostgreSQL, parallelism {parallelism}",
        count,
        f"{two:.0f} routes/s",
        f"{sqlite:.0f} routes/s (one server, SQLite)",
        f"{two / sqlite:.2f}",
        "—",
        None,
        None,
    )


def scale_rows(folder: Path, quick: bool, runs: int) -> list[Row]:
    """The "speed at scale" scenarios (bench/scale.py, bench/caddy_apply.py)."""
    from bench import caddy_apply, scale

    routes = routes_executable()
    local_sizes = (1000,) if quick else (10_000, 50_000)
    caddy_sizes = (100, 250, 500) if quick else (500, 2000, 5000)
    git_sizes = (1000,) if quick else (1000, 10_000, 50_000)
    runs = min(runs, 3)  # the 50,000-route scenarios take minutes each
    rows = scale.local_rows(folder, routes, local_sizes, runs)
    rows += caddy_apply.caddy_rows(caddy_sizes, runs)
    rows.append(scale.http_plan_row(folder, routes, local_sizes[0], runs))
    rows += scale.changed_since_rows(folder, routes, git_sizes, runs)
    rows.append(scale.drift_row(folder, routes, local_sizes[0], 20, runs))
    return rows


def cache_rows(folder: Path, quick: bool, runs: int) -> list[Row]:
    """The descriptor cache scenarios (bench/cache.py): warm, cold, 1 % changed."""
    from bench import cache

    rows: list[Row] = []
    own = folder / "cache"  # its own repositories: the other scenarios leave state behind
    own.mkdir(exist_ok=True)
    for n in (1000,) if quick else (10_000, 50_000):
        rows += cache.rows_for(own, n, runs)
    return rows


def machine() -> str:
    """nproc, CPU model and Python version, for the record."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run in ~1 min")
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (median)")
    parser.add_argument(
        "--only",
        choices=("base", "scale", "cache"),
        help="only the base scenarios, the scale ones (local 10k/50k, Caddy, http, git) or "
        "the descriptor cache ones (warm, cold, 1 %% changed at 10k/50k)",
    )
    args = parser.parse_args()
    if args.quick:
        n, sizes, http_count = 1000, (250, 500, 1000), 200
    else:
        n, sizes, http_count = 10_000, (1000, 5000, 10_000), 1000
    print(f"Machine: {machine()}", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="routes-bench-") as tmp:
        if args.only in (None, "base"):
            rows += cli_rows(Path(tmp), n, sizes, args.runs)
            rows.append(http_row(http_count, rounds=3))
        if args.only in (None, "scale"):
            rows += scale_rows(Path(tmp), args.quick, args.runs)
            rows.append(http_row(http_count if args.quick else 10_000, rounds=3))
            two_replicas = replicas_row(http_count, rounds=3)
            if two_replicas is not None:
                rows.append(two_replicas)
        if args.only in (None, "cache"):
            rows += cache_rows(Path(tmp), args.quick, args.runs)
    print(table(rows))
    if args.quick:
        print("\n--quick: a smoke run; the goals are set for the full N (startup weighs more here)")
    missed = [row.scenario for row in rows if row.met is False]
    if missed:
        print("\nGoals missed: " + "; ".join(missed))
    sys.exit(1 if missed and not args.quick else 0)  # --quick is a smoke run, not a verdict


if __name__ == "__main__":
    main()
