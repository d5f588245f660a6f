"""Compare ``load_paths`` with a plain libyaml parse of the same files.

python bench/bench_load.py [N_ROUTES]     # default 10,000 routes x 8 paths
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gen import generate_repo
from reconciler.descriptors import load_paths


def _plain(files: list[Path]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for file in files:
        with file.open("rb") as stream:
            yaml.load(stream, Loader=yaml.CSafeLoader)
    return time.perf_counter() - wall, time.process_time() - cpu


def _ours(repo: Path) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = load_paths([repo / "routes"], root=repo)
    elapsed = time.perf_counter() - wall, time.process_time() - cpu
    assert not result.diagnostics, result.diagnostics[:3]
    return elapsed


def main(n_routes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        generate_repo(repo, n_routes)
        files = sorted((repo / "routes").glob("*.yaml"))
        _plain(files)  # warm the page cache for both contenders
        plain = [_plain(files) for _ in range(3)]
        ours = [_ours(repo) for _ in range(3)]
        for label, index in (("wall", 0), ("cpu", 1)):
            best_plain = min(run[index] for run in plain)
            best_ours = min(run[index] for run in ours)
            print(
                f"{n_routes} routes, best of 3 {label}: plain libyaml {best_plain:.2f}s, "
                f"load_paths {best_ours:.2f}s, ratio {best_ours / best_plain:.2f}"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
