"""Batched writes (backends with ``capabilities.batch_writes``): one request per phase
batch, conflicts and races decided per route, transient failures retried per batch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.apply.journal import read_journal
from reconciler.backends.base import Capabilities, Write
from reconciler.backends.local import open_local
from reconciler.backends.memory import MemoryBackend
from reconciler.errors import InvalidSpecError, RoutesError, TransientBackendError
from reconciler.model import LiveRoute, RouteSpec
from reconciler.plan import Plan
from tests.apply.support import (
    FakeClock,
    RecordingBackend,
    create,
    delete,
    outcomes,
    plan_of,
    run,
    seed_mixed,
    spec,
    update,
)

# -- batched writes (backends with capabilities.batch_writes) -------------------------------


class BatchBackend(RecordingBackend):
    """A recording backend that also writes batches: one ``write_batch`` per request, each
    write through the recording single-route methods (so faults and races still apply)."""

    capabilities = Capabilities(batch_writes=True)

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[tuple[str, str]]] = []
        self.batch_faults: list[BaseException] = []  # raised for a whole write_batch call
        self.reads: list[list[str]] = []

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        names = list(names)
        self.reads.append(names)
        found = {name: MemoryBackend.get_route(self, name) for name in names}
        return {name: route for name, route in found.items() if route is not None}

    def write_batch(self, writes: Sequence[Write]) -> list[LiveRoute | RoutesError | None]:
        self.batches.append([(w.kind, w.name) for w in writes])
        if self.batch_faults:
            raise self.batch_faults.pop(0)
        outcomes: list[LiveRoute | RoutesError | None] = []
        for w in writes:
            try:
                if w.kind == "create":
                    assert w.spec is not None
                    outcomes.append(self.create_route(w.name, w.spec, w.labels, w.annotations))
                elif w.kind == "replace":
                    assert w.spec is not None
                    outcomes.append(
                        self.replace_route(
                            w.name, w.spec, w.labels, w.annotations, w.expected_version
                        )
                    )
                else:
                    outcomes.append(self.delete_route(w.name, w.expected_version))
            except RoutesError as exc:
                outcomes.append(exc)
        return outcomes


@pytest.fixture
def batched() -> tuple[BatchBackend, Plan, dict[str, RouteSpec]]:
    """The ``mixed`` scenario against a batch-writing backend."""
    backend = BatchBackend()
    return backend, *seed_mixed(backend)


def test_batches_go_creates_then_updates_then_deletes_one_request_each(batched: Any) -> None:
    backend, plan, specs = batched
    result = run(plan, backend, specs)
    assert result.ok and result.count("applied") == 9
    assert [sorted(batch) for batch in backend.batches] == [
        [("create", f"new-{i}") for i in range(3)],
        [("replace", f"upd-{i}") for i in range(3)],
        [("delete", f"del-{i}") for i in range(3)],
    ]
    assert len(backend.reads) == 3  # one read per phase, not one per route
    assert [r.route for r in result.results] == [c.route for c in plan.changes]
    assert backend.get_route("upd-0").spec == specs["upd-0"]  # type: ignore[union-attr]
    assert backend.get_route("del-0") is None
    messages = {r.route: r.message for r in result.results}
    assert messages["new-0"] == "created" and messages["del-0"] == "deleted"
    assert messages["upd-0"].startswith("updated from version")


def test_batched_apply_twice_writes_nothing_the_second_time(batched: Any) -> None:
    backend, plan, specs = batched
    assert run(plan, backend, specs).ok
    backend.batches.clear()
    writes = backend.write_count
    second = run(plan, backend, specs)
    assert set(outcomes(second).values()) == {"already-applied"}
    assert backend.batches == [] and backend.write_count == writes


def test_batched_half_applied_plan_rerun_writes_only_what_is_left(batched: Any) -> None:
    backend, plan, specs = batched
    backend.faults[("replace", "upd-1")] = [InvalidSpecError("backend said no")]
    first = run(plan, backend, specs)
    assert outcomes(first)["upd-1"] == "failed"
    assert "backend said no" in {r.route: r for r in first.results}["upd-1"].message
    assert {r.outcome for r in first.results if r.action == "delete"} == {"not-attempted"}
    backend.batches.clear()
    second = run(plan, backend, specs)
    assert second.ok
    assert [sorted(batch) for batch in backend.batches] == [
        [("replace", "upd-1")],
        [("delete", f"del-{i}") for i in range(3)],
    ]


def test_batched_conflicts_are_classified_and_never_written() -> None:
    backend = BatchBackend()
    upd = backend.seed("upd", spec("upd.acme.org", "v1"))
    gone = backend.seed("gone", spec("gone.acme.org"))
    dele = backend.seed("del", spec("del.acme.org"))
    plan = plan_of(
        [
            create("new", spec("new.acme.org")),
            create("ok", spec("ok.acme.org")),
            update("upd", upd, spec("upd.acme.org", "v2")),
            update("gone", gone, spec("gone.acme.org", "v2")),
            delete("del", dele),
        ]
    )
    backend.sneak("new", spec("new.acme.org", "someone-else"))
    backend.sneak("upd", spec("upd.acme.org", "hotfix"))
    backend.sneak("gone", None)
    specs = {"new": spec("new.acme.org"), "ok": spec("ok.acme.org")}
    specs |= {"upd": spec("upd.acme.org", "v2"), "gone": spec("gone.acme.org", "v2")}
    result = run(plan, backend, specs)
    assert outcomes(result) == {
        "new": "conflict",
        "ok": "applied",
        "upd": "conflict",
        "gone": "conflict",
        "del": "not-attempted",
    }
    assert backend.batches == [[("create", "ok")]]
    by_route = {r.route: r for r in result.results}
    assert "routes plan" in by_route["upd"].message and "deleted" in by_route["gone"].message


def test_batched_write_losing_a_race_to_the_same_write_is_already_applied() -> None:
    backend = BatchBackend()
    live = backend.seed("shop", spec("shop.acme.org", "v1"))
    wanted = spec("shop.acme.org", "v2")
    backend.before_write = lambda op, name: backend.sneak(name, wanted)
    result = run(plan_of([update("shop", live, wanted)]), backend, {"shop": wanted})
    assert outcomes(result) == {"shop": "already-applied"}
    assert len(backend.reads) == 2  # the batch read, then the re-read of the refused write


def test_batched_write_losing_a_race_to_a_different_write_is_a_conflict() -> None:
    backend = BatchBackend()
    wanted = spec("shop.acme.org", "v2")
    backend.before_write = lambda op, name: backend.sneak(name, spec("shop.acme.org", "other"))
    plan = plan_of([create("shop", wanted), create("blog", spec("blog.acme.org"))])
    result = run(plan, backend, {"shop": wanted, "blog": spec("blog.acme.org")})
    assert outcomes(result) == {"shop": "conflict", "blog": "applied"}
    assert "already exists" in result.results[0].message
    live = backend.get_route("shop")
    assert live is not None and live.spec.paths[0].service == "other"


def test_a_transient_batch_failure_retries_the_batch_honouring_retry_after(
    tmp_path: Path,
) -> None:
    backend = BatchBackend()
    backend.batch_faults = [TransientBackendError("503 reloading", retry_after=7.0)]
    names = ["a", "b", "c"]
    plan = plan_of(create(n, spec(f"{n}.acme.org")) for n in names)
    clock = FakeClock()
    specs = {n: spec(f"{n}.acme.org") for n in names}
    result = run(plan, backend, specs, clock, journal_dir=tmp_path)
    assert result.ok and {r.attempts for r in result.results} == {2}
    assert len(backend.batches) == 2 and len(clock.sleeps) == 1 and clock.sleeps[0] >= 7.0
    events = read_journal(Path(result.journal or ""))
    assert sorted(e["route"] for e in events if e["event"] == "retry") == names


def test_a_batch_that_stays_unavailable_gives_up_after_max_attempts() -> None:
    backend = BatchBackend()
    backend.batch_faults = [TransientBackendError(f"503 #{i}") for i in range(10)]
    plan = plan_of(create(n, spec(f"{n}.acme.org")) for n in ("a", "b"))
    clock = FakeClock()
    result = run(plan, backend, {n: spec(f"{n}.acme.org") for n in "ab"}, clock, max_attempts=3)
    assert [(r.outcome, r.attempts) for r in result.results] == [("failed", 3)] * 2
    assert "gave up after 3 attempts: 503 #2" in result.results[0].message
    assert len(clock.sleeps) == 2 and backend.write_count == 0


def test_one_write_refused_in_a_batch_fails_only_that_route() -> None:
    backend = BatchBackend()
    backend.faults[("create", "a")] = [InvalidSpecError("host not registered")]
    backend.faults[("create", "b")] = [TransientBackendError("503 for b alone")]
    plan = plan_of(create(n, spec(f"{n}.acme.org")) for n in ("a", "b", "c"))
    clock = FakeClock()
    result = run(plan, backend, {n: spec(f"{n}.acme.org") for n in "abc"}, clock)
    assert outcomes(result) == {"a": "failed", "b": "applied", "c": "applied"}
    assert "host not registered" in result.results[0].message
    assert [r.attempts for r in result.results] == [1, 2, 1]
    assert backend.batches[1:] == [[("create", "b")]]  # only the transient one is tried again


def test_batches_are_bounded_and_progress_follows_every_route() -> None:
    backend = BatchBackend()
    names = [f"r-{i}" for i in range(5)]
    plan = plan_of(create(n, spec(f"{n}.acme.org")) for n in names)
    seen: list[int] = []
    result = apply_plan(
        plan,
        backend,
        {n: spec(f"{n}.acme.org") for n in names},
        ApplyOptions(batch_size=2),
        progress=lambda result, done, total: seen.append(done),
        sleep=lambda s: None,
    )
    assert result.ok
    assert [len(batch) for batch in backend.batches] == [2, 2, 1]
    assert seen == [1, 2, 3, 4, 5]


def test_without_a_batch_size_a_phase_goes_in_the_backends_batches() -> None:
    backend = BatchBackend()
    backend.capabilities = Capabilities(batch_writes=True, batch_size=None)  # a whole phase
    names = [f"r-{i}" for i in range(7)]
    result = run(
        plan_of(create(n, spec(f"{n}.acme.org")) for n in names), backend, specs_for(names)
    )
    assert result.ok and [len(batch) for batch in backend.batches] == [7]
    backend = BatchBackend()
    backend.capabilities = Capabilities(batch_writes=True, batch_size=3)
    result = run(
        plan_of(create(n, spec(f"{n}.acme.org")) for n in names), backend, specs_for(names)
    )
    assert result.ok and [len(batch) for batch in backend.batches] == [3, 3, 1]


# -- the local backend: many routes per SQLite transaction ----------------------------------


class Crash(BaseException):
    """The process dying: nothing after it runs (not even the result lines)."""


def test_local_apply_commits_a_thousand_routes_per_transaction(tmp_path: Path) -> None:
    backend = open_local(f"local:{tmp_path / 'state.db'}")
    commits: list[int] = []
    write_batch = backend.write_batch
    backend.write_batch = lambda writes: commits.append(len(writes)) or write_batch(writes)  # type: ignore[method-assign]
    names = [f"r-{i:04d}" for i in range(2500)]
    plan = plan_of(create(n, spec(f"{n}.acme.org")) for n in names)
    result = run(plan, backend, specs_for(names), journal_dir=tmp_path / "journal")
    assert result.ok and result.count("applied") == 2500
    assert commits == [1000, 1000, 500]
    events = read_journal(Path(result.journal or ""))
    assert [e["route"] for e in events if e["event"] == "result"] == names
    assert {e["message"] for e in events if e["event"] == "result"} == {"created"}
    assert len(backend.list_routes()) == 2500
    again = run(plan, backend, specs_for(names))
    assert set(outcomes(again).values()) == {"already-applied"} and commits == [1000, 1000, 500]


def test_a_crash_after_a_commit_leaves_its_routes_in_the_journal_and_a_rerun_finishes(
    tmp_path: Path,
) -> None:
    backend = open_local(f"local:{tmp_path / 'state.db'}")
    write_batch = backend.write_batch

    def commit_then_die(writes: Sequence[Write]) -> list[Any]:
        write_batch(writes)
        raise Crash  # committed, and no result line will ever say so

    backend.write_batch = commit_then_die  # type: ignore[method-assign]
    names = [f"r-{i:04d}" for i in range(1200)]
    plan = plan_of(create(n, spec(f"{n}.acme.org")) for n in names)
    with pytest.raises(Crash):
        run(plan, backend, specs_for(names), journal_dir=tmp_path / "journal")
    (killed,) = [read_journal(p) for p in (tmp_path / "journal").glob("*.jsonl")]
    committed = {route.name for route in backend.list_routes()}
    assert len(committed) == 1000
    in_flight = {name for e in killed if e["event"] == "writing" for name in e["routes"]}
    assert committed <= in_flight, "every committed route is named in the journal"
    versions = {route.name: route.version for route in backend.list_routes()}

    backend.write_batch = write_batch  # type: ignore[method-assign]
    rerun = run(plan, backend, specs_for(names))
    assert {n for n, o in outcomes(rerun).items() if o == "already-applied"} == committed
    assert {n for n, o in outcomes(rerun).items() if o == "applied"} == set(names) - committed
    assert all(backend.get_route(n).version == v for n, v in versions.items())  # type: ignore[union-attr]


def specs_for(names: Iterable[str]) -> dict[str, RouteSpec]:
    return {n: spec(f"{n}.acme.org") for n in names}
