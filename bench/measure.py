"""Timing child processes: wall time and peak RSS of each run, medians, and the result table."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# A child that only reads and parses every descriptor file with libyaml: the floor that
# validate and plan are compared with (interpreter startup included, as on our side).
FLOOR_CODE = """\
import sys
from pathlib import Path
import yaml
for file in sorted(Path(sys.argv[1]).rglob("*.yaml")):
    yaml.load(file.read_bytes(), Loader=yaml.CSafeLoader)
"""


@dataclass(frozen=True)
class Run:
    """One child process: seconds from spawn to reaped, and its peak resident set in MiB."""

    seconds: float
    peak_mib: float


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    scenario: str
    n: int
    median: str
    floor: str
    ratio: str
    goal: str
    met: bool | None
    peak_mib: float | None


# Linux starts a child's ru_maxrss at its parent's peak (kept across exec), and this runner
# grows large; so a small launcher forks the measured command and reports its wait4 rusage.
# The launcher times from spawn to reaped, so its own startup is not counted.
LAUNCHER_CODE = """\
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - started
print(seconds, os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def run_child(args: Sequence[str], cwd: Path, expect: int = 0) -> Run:
    """Run ``args`` to completion with output discarded: wall seconds and peak RSS."""
    env = {**os.environ, "NO_COLOR": "1"}
    launcher = [sys.executable, "-c", LAUNCHER_CODE, *args]
    out = subprocess.run(launcher, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    seconds, code, max_rss_kib = out.stdout.split()
    if int(code) != expect:
        raise SystemExit(f"{' '.join(args)} in {cwd} exited {code}, not {expect}: {out.stderr}")
    return Run(float(seconds), int(max_rss_kib) / 1024)  # ru_maxrss is in KiB on Linux


def interleaved(
    ours: Sequence[str], floor: Sequence[str], cwd: Path, runs: int
) -> tuple[list[Run], list[Run]]:
    """``runs`` of each, alternating, so load from elsewhere on the machine hits both alike."""
    mine: list[Run] = []
    base: list[Run] = []
    run_child(floor, cwd)  # warm the page cache and the bytecode caches for both
    run_child(ours, cwd)
    for _ in range(runs):
        base.append(run_child(floor, cwd))
        mine.append(run_child(ours, cwd))
    return mine, base


def repeated(args: Sequence[str], cwd: Path, runs: int) -> list[Run]:
    """``runs`` timed runs of ``args`` after one warm-up."""
    run_child(args, cwd)
    return [run_child(args, cwd) for _ in range(runs)]


def median_seconds(runs: Sequence[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def peak(runs: Sequence[Run]) -> float:
    return max(run.peak_mib for run in runs)


def growth_exponent(points: Sequence[tuple[int, float]]) -> float:
    """``b`` of the least-squares fit log t = a + b log n."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    head = ("scenario", "N", "median", "floor", "ratio", "goal", "met", "peak RSS")
    body = [
        (
            r.scenario,
            f"{r.n:,}",
            r.median,
            r.floor,
            r.ratio,
            r.goal,
            "—" if r.met is None else ("yes" if r.met else "**no**"),
            "—" if r.peak_mib is None else f"{r.peak_mib:.0f} MiB",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(cells) for cells in body)])
