"""The code itself: ruff (lint and format) and mypy --strict on the package, as CI runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the [test] extra")
def test_ruff_check_is_clean() -> None:
    proc = run("ruff", "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the [test] extra")
def test_ruff_format_is_clean() -> None:
    proc = run("ruff", "format", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_on_the_package() -> None:
    proc = run(sys.executable, "-m", "mypy", "reconciler")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_lists_every_diagnostic_code() -> None:
    from reconciler import diagnostics

    readme = (REPO / "README.md").read_text()
    named = [v for k, v in vars(diagnostics).items() if k.startswith("CODE_")]
    assert set(named) <= set(diagnostics.CODES)  # one table: every named code is in it
    for code, (severity, _) in diagnostics.CODES.items():
        assert f"| `{code}` | {severity} |" in readme, f"README's code table misses {code}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0].strip() for b in quickstart.split("```sh\n")[1:]]
    assert len(blocks) >= 2, "the Quickstart has two commands"
    install_and_plan, test_command = blocks[0], blocks[1]
    assert install_and_plan.startswith("pip install ") and " plan" in install_and_plan
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci, f".ci/run must run {test_command!r}"


BENCH_MODULES = sorted(p.stem for p in (REPO / "bench").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", BENCH_MODULES)
def test_every_benchmark_still_imports(module: str) -> None:
    # The benchmarks are not run by the tests, but they call into the package: one whose
    # imports went stale would only fail when someone needs its figures.
    proc = run(sys.executable, "-c", f"import bench.{module}")
    assert proc.returncode == 0, proc.stderr
