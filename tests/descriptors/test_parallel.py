"""A load of many files on several processes gives what one process gives, diagnostics and all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from reconciler.descriptors import parallel
from reconciler.descriptors.cache import DescriptorCache
from reconciler.descriptors.loader import LoadResult, load_blobs, load_paths
from tests.descriptors.test_cache import BROKEN, PROJECT, SHADOW, SHOP, facts, trees, write_tree
from tests.in_process import plain_environment, run_routes


def many_files(count: int) -> dict[str, str | bytes]:
    """``count`` files of every kind a load meets, spread so each worker's slice gets some:
    good routes, one host shared across slices (W102), a name described twice far apart
    (R010), broken specs, `resource: Route` files, and files that are not descriptors."""
    kinds: list[Any] = [
        lambda i: f"host: r{i}.acme.org\nroutes:\n- prefix: /\n  route: {{service: s{i}}}\n",
        lambda i: SHOP,
        lambda i: SHADOW,
        lambda i: BROKEN,
        lambda i: PROJECT.replace("name: one", f"name: one-{i}").replace("name: two", "name: two"),
        lambda i: "",
        lambda i: "- a list\n",
        lambda i: "host: [\n",
        lambda i: b"host: caf\xe9.org\n",
    ]
    return {f"f{i:04d}.yaml": kinds[i % len(kinds)](i) for i in range(count)}


def load_with(folder: Path, count: int, cache_dir: Path | None = None) -> LoadResult:
    os.environ["ROUTES_LOAD_WORKERS"] = str(count)
    try:
        cache = DescriptorCache.open(cache_dir) if cache_dir is not None else None
        return load_paths([folder], root=folder.parent, cache=cache)
    finally:
        del os.environ["ROUTES_LOAD_WORKERS"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "routes"
    folder.mkdir()
    for name, text in many_files(parallel.MIN_FILES + 61).items():
        target = folder / name
        target.write_bytes(text) if isinstance(text, bytes) else target.write_text(text)
    return folder


def test_two_or_three_processes_load_what_one_does(folder: Path) -> None:
    alone = load_with(folder, 1)
    codes = {d.code for d in alone.diagnostics}
    assert {"W101", "W102", "R010", "R005", "R006", "W105"} <= codes
    assert len(alone.routes) > parallel.MIN_FILES // 3
    assert facts(load_with(folder, 2)) == facts(alone)
    assert facts(load_with(folder, 3)) == facts(alone)


def test_what_workers_load_fills_the_cache_and_is_not_treated_as_replayed(
    folder: Path, tmp_path: Path
) -> None:
    cold = load_with(folder, 2, tmp_path / "cache")
    assert cold.replayed == frozenset()  # parsed in this run, not read from the cache file
    warm = load_with(folder, 2, tmp_path / "cache")
    assert warm.replayed == frozenset(warm.routes)
    assert facts(cold) == facts(warm) == facts(load_with(folder, 1))


def test_blobs_from_git_load_in_parallel_too(folder: Path) -> None:
    blobs = [(f"routes/{p.name}", p.read_bytes()) for p in sorted(folder.iterdir())]
    os.environ["ROUTES_LOAD_WORKERS"] = "2"
    try:
        together = load_blobs(blobs)
    finally:
        del os.environ["ROUTES_LOAD_WORKERS"]
    assert facts(together) == facts(load_with(folder, 1))


def _dies(indices: list[int]) -> list[Any]:
    os._exit(3)  # a worker killed half-way, as by the OOM killer


def _raises(indices: list[int]) -> list[Any]:
    raise MemoryError


@pytest.mark.parametrize("failure", [_dies, _raises])
def test_a_worker_that_dies_or_fails_costs_only_time(
    folder: Path, monkeypatch: pytest.MonkeyPatch, failure: Any
) -> None:
    alone = load_with(folder, 1)
    monkeypatch.setattr(parallel, "_load_slice", failure)
    assert facts(load_with(folder, 2)) == facts(alone)


@pytest.mark.parametrize("value, expected", [("1", 1), ("3", 3), ("99", parallel.MAX_WORKERS)])
def test_the_environment_sets_how_many_processes_load(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: int
) -> None:
    monkeypatch.setenv("ROUTES_LOAD_WORKERS", value)
    assert parallel.workers() == expected


def test_without_the_setting_every_usable_cpu_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTES_LOAD_WORKERS", " ")
    assert parallel.workers() == min(len(os.sched_getaffinity(0)), parallel.MAX_WORKERS)


@pytest.mark.parametrize("value", ["0", "-2", "two", "\u00b2", "1e3", "\x1b[31m"])
def test_a_nonsense_setting_is_an_error_that_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    plain_environment(monkeypatch)
    (tmp_path / "shop.yaml").write_text(SHOP)
    monkeypatch.setenv("ROUTES_LOAD_WORKERS", value)
    code, out = run_routes(tmp_path, "validate", "shop.yaml")
    assert code == 1
    assert "Error: ROUTES_LOAD_WORKERS=" in out and "is not a number of processes" in out
    assert "Hint: set it to 1 (this process only) up to 8, or unset it" in out
    assert "\x1b" not in out  # the value is shown escaped


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=trees)
def test_any_tree_loads_the_same_on_two_processes(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, files: Any
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 1)
    folder = write_tree(tmp_path_factory.mktemp("tree"), files)
    assert facts(load_with(folder, 2)) == facts(load_with(folder, 1))
