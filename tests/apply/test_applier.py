"""The applier (DESIGN §7): phase order, parallelism, idempotency, progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.local import open_local
from reconciler.errors import InvalidSpecError, PlanError
from reconciler.model import LABEL_OWNER, DesiredRoute, RouteSet, SourceLocation
from reconciler.planner import PlanOptions, make_plan
from reconciler.results import RouteResult
from tests.apply.support import (
    OWNER,
    RecordingBackend,
    _desired,
    create,
    outcomes,
    plan_of,
    run,
    spec,
)

# -- order and parallelism ------------------------------------------------------------------


def test_every_create_precedes_every_update_precedes_every_delete(mixed: Any) -> None:
    backend, plan, specs = mixed
    result = run(plan, backend, specs, parallelism=4)
    assert result.ok
    ops = [op for op, _ in backend.written]
    assert sorted(ops) == sorted(["create"] * 3 + ["replace"] * 3 + ["delete"] * 3)
    assert ops == ["create"] * 3 + ["replace"] * 3 + ["delete"] * 3
    assert [r.route for r in result.results] == [c.route for c in plan.changes]


def test_parallelism_is_bounded() -> None:
    backend = RecordingBackend(gate=4)  # writers wait for a 4th peer that must never come
    names = [f"r-{i:02d}" for i in range(20)]
    plan = plan_of(create(n, spec(f"{n}.acme.org")) for n in names)
    result = run(plan, backend, {n: spec(f"{n}.acme.org") for n in names}, parallelism=3)
    assert result.count("applied") == 20
    assert backend.max_active <= 3


def test_parallelism_runs_routes_at_once() -> None:
    backend = RecordingBackend(gate=10)
    names = [f"r-{i:02d}" for i in range(20)]
    plan = plan_of(create(n, spec(f"{n}.acme.org")) for n in names)
    result = run(plan, backend, {n: spec(f"{n}.acme.org") for n in names}, parallelism=10)
    assert result.count("applied") == 20
    assert 1 < backend.max_active <= 10


# -- idempotency ----------------------------------------------------------------------------


def test_applying_the_same_plan_twice_writes_nothing_the_second_time(mixed: Any) -> None:
    backend, plan, specs = mixed
    first = run(plan, backend, specs)
    assert first.summary() == {"applied": 9, "already-applied": 0, "failed": 0, "not-attempted": 0}
    writes = backend.write_count
    second = run(plan, backend, specs)
    assert set(outcomes(second).values()) == {"already-applied"}
    assert backend.write_count == writes
    assert second.ok


def test_half_applied_plan_rerun_finishes_and_touches_nothing_twice(mixed: Any) -> None:
    backend, plan, specs = mixed
    backend.faults[("replace", "upd-1")] = [InvalidSpecError("backend said no")]
    first = run(plan, backend, specs)
    assert outcomes(first)["upd-1"] == "failed"
    assert (
        "backend said no" in first.results[[r.route for r in first.results].index("upd-1")].message
    )
    deletes = [r for r in first.results if r.action == "delete"]
    assert {r.outcome for r in deletes} == {"not-attempted"}
    assert all("upd-1" in r.message for r in deletes)
    assert not first.ok

    second = run(plan, backend, specs)
    assert second.ok
    assert outcomes(second)["upd-1"] == "applied"
    assert sum(o == "already-applied" for o in outcomes(second).values()) == 5
    written = [name for op, name in backend.written]
    assert sorted(written) == sorted(set(written))  # every route written exactly once
    assert len(written) == 9
    assert backend.list_routes() == sorted(backend.list_routes(), key=lambda r: r.name)
    assert {r.name for r in backend.list_routes()} == {f"new-{i}" for i in range(3)} | {
        f"upd-{i}" for i in range(3)
    }


def test_end_to_end_with_the_planner_reaches_an_empty_plan() -> None:
    backend = RecordingBackend()
    backend.seed("gone", spec("gone.acme.org"))
    old = backend.seed("shop", spec("shop.acme.org", "v1"))
    desired = RouteSet(
        {
            name: DesiredRoute(name, route_spec, SourceLocation(f"routes/{name}.yaml"))
            for name, route_spec in {
                "shop": spec("shop.acme.org", "v2", secret=True),
                "blog": spec("blog.acme.org"),
            }.items()
        }
    )
    options = PlanOptions(owner=OWNER, backend_url=backend.url, tool_version="0", prune=True)
    plan = make_plan(desired, backend.list_routes(), options)
    specs = {n: d.spec for n, d in desired.items()}
    result = run(plan, backend, specs)
    assert outcomes(result) == {"blog": "applied", "shop": "applied", "gone": "applied"}
    shop = backend.get_route("shop")
    assert shop is not None and shop.version != old.version
    assert shop.labels[LABEL_OWNER] == OWNER
    assert not make_plan(desired, backend.list_routes(), options).has_changes


def test_apply_refuses_to_start_without_a_spec_for_every_write() -> None:
    backend = RecordingBackend()
    with pytest.raises(PlanError, match="shop"):
        run(plan_of([create("shop", spec("shop.acme.org"))]), backend, {})
    assert backend.calls == []


# -- progress -------------------------------------------------------------------------------


def test_progress_is_reported_after_every_route(mixed: Any) -> None:
    backend, plan, specs = mixed
    seen: list[tuple[str, int, int]] = []

    def progress(result: RouteResult, done: int, total: int) -> None:
        seen.append((result.route, done, total))

    apply_plan(plan, backend, specs, ApplyOptions(), progress=progress, sleep=lambda s: None)
    assert [d for _, d, _ in seen] == list(range(1, 10))
    assert {t for _, _, t in seen} == {9}
    assert sorted(r for r, _, _ in seen) == sorted(c.route for c in plan.changes)


# -- on the embedded local (SQLite) backend -------------------------------------------------


def test_local_backend_apply_in_parallel_then_nothing_left_to_do(tmp_path: Path) -> None:
    backend = open_local(f"local:{tmp_path / 'state.db'}")
    try:
        wanted = {f"r-{i:02d}": spec(f"r{i}.acme.org", secret=i % 2 == 0) for i in range(25)}
        options = PlanOptions(owner=OWNER, backend_url=backend.url, tool_version="0")
        plan = make_plan(_desired(wanted), backend.list_routes(), options)
        result = apply_plan(plan, backend, wanted, ApplyOptions())
        assert result.count("applied") == 25
        assert not make_plan(_desired(wanted), backend.list_routes(), options).has_changes
        again = apply_plan(plan, backend, wanted, ApplyOptions())
        assert again.count("already-applied") == 25
        live = backend.get_route("r-00")
        assert live is not None and live.spec == wanted["r-00"]
    finally:
        backend.close()
