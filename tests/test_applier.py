"""The applier (DESIGN §7): order, parallelism, idempotency, freshness, retries, journal, wait."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.apply.guards import check_fresh, check_guards, resolve_desired_specs
from reconciler.apply.journal import read_journal
from reconciler.backends.base import Capabilities, Write
from reconciler.backends.local import open_local
from reconciler.backends.memory import MemoryBackend
from reconciler.diagnostics import Diagnostic
from reconciler.errors import (
    GuardError,
    InvalidSpecError,
    PlanError,
    RoutesError,
    StalePlanError,
    TransientBackendError,
)
from reconciler.model import (
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    Condition,
    DesiredRoute,
    LiveRoute,
    RouteSet,
    RouteSpec,
    SourceLocation,
)
from reconciler.plan import ApplyResult, Change, Plan, RouteResult
from reconciler.planner import PlanOptions, make_plan

OWNER = "acme/gitops"
SECRET_HASH = "sha256:c2VjcmV0LWhhc2gtdGhhdC1tdXN0LW5ldmVyLWxlYWs="
LABELS = {LABEL_MANAGED_BY: "routes", LABEL_OWNER: OWNER}


def spec(host: str, service: str = "svc", *, secret: bool = False) -> RouteSpec:
    raw: dict[str, Any] = {"host": host, "routes": [{"prefix": "/", "route": {"service": service}}]}
    if secret:
        raw["validation"] = {"httpBasic": {"realm": "r", "passwordHashes": {"admin": SECRET_HASH}}}
    return RouteSpec.from_dict(raw)


def create(name: str, after: RouteSpec) -> Change:
    return Change(
        route=name,
        action="create",
        after=after.to_dict(redact=True),
        after_fingerprint=after.fingerprint(),
        labels=LABELS,
    )


def update(name: str, before: LiveRoute, after: RouteSpec) -> Change:
    return Change(
        route=name,
        action="update",
        before=before.spec.to_dict(redact=True),
        after=after.to_dict(redact=True),
        live_version=before.version,
        live_fingerprint=before.spec.fingerprint(),
        after_fingerprint=after.fingerprint(),
        labels=LABELS,
    )


def delete(name: str, before: LiveRoute) -> Change:
    return Change(
        route=name,
        action="delete",
        reason="not-in-configuration",
        before=before.spec.to_dict(redact=True),
        live_version=before.version,
        live_fingerprint=before.spec.fingerprint(),
    )


def plan_of(changes: Iterable[Change], desired_count: int | None = None) -> Plan:
    changes = tuple(changes)
    count = sum(c.action != "delete" for c in changes) if desired_count is None else desired_count
    return Plan(
        backend="memory:", owner=OWNER, tool_version="0", changes=changes, desired_count=count
    )


def specs_of(changes: Iterable[tuple[str, RouteSpec]]) -> dict[str, RouteSpec]:
    return dict(changes)


class RecordingBackend(MemoryBackend):
    """A memory backend that records every write in order, counts concurrent writes, and
    raises injected errors; ``gate`` makes writers wait for peers so overlap is observable."""

    def __init__(self, gate: int = 0) -> None:
        super().__init__("memory:test")
        self.calls: list[tuple[str, str]] = []
        self.written: list[tuple[str, str]] = []  # successful writes only
        self.faults: dict[tuple[str, str], list[BaseException]] = {}
        self.before_write: Callable[[str, str], None] | None = None
        self.gate = gate
        self.active = 0
        self.max_active = 0
        self._cond = threading.Condition()

    def seed(
        self, name: str, route_spec: RouteSpec, labels: Mapping[str, str] = LABELS
    ) -> LiveRoute:
        route = super().create_route(name, route_spec, labels, {})
        self.write_count = 0
        return route

    def _enter(self, op: str, name: str) -> None:
        with self._cond:
            self.calls.append((op, name))
            pending = self.faults.get((op, name))
            if pending:
                raise pending.pop(0)
            if op == "get":
                return
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self._cond.notify_all()
            if self.gate:
                self._cond.wait_for(lambda: self.active >= self.gate, timeout=0.05)
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook(op, name)

    def _leave(self) -> None:
        with self._cond:
            self.active -= 1

    def get_route(self, name: str) -> LiveRoute | None:
        self._enter("get", name)
        return super().get_route(name)

    def create_route(self, name: str, spec: RouteSpec, labels: Any, annotations: Any) -> LiveRoute:
        self._enter("create", name)
        try:
            route = super().create_route(name, spec, labels, annotations)
            self.written.append(("create", name))
            return route
        finally:
            self._leave()

    def replace_route(
        self, name: str, spec: RouteSpec, labels: Any, annotations: Any, expected_version: Any
    ) -> LiveRoute:
        self._enter("replace", name)
        try:
            route = super().replace_route(name, spec, labels, annotations, expected_version)
            self.written.append(("replace", name))
            return route
        finally:
            self._leave()

    def delete_route(self, name: str, expected_version: str | None) -> None:
        self._enter("delete", name)
        try:
            super().delete_route(name, expected_version)
            self.written.append(("delete", name))
        finally:
            self._leave()

    def sneak(self, name: str, route_spec: RouteSpec | None) -> None:
        """Someone else changes a route behind the plan's back."""
        if route_spec is None:
            MemoryBackend.delete_route(self, name, None)
        elif MemoryBackend.get_route(self, name) is None:
            MemoryBackend.create_route(self, name, route_spec, LABELS, {})
        else:
            MemoryBackend.replace_route(self, name, route_spec, LABELS, {}, None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def run(
    plan: Plan,
    backend: RecordingBackend,
    specs: Mapping[str, RouteSpec],
    clock: FakeClock | None = None,
    **options: Any,
) -> ApplyResult:
    clock = clock or FakeClock()
    return apply_plan(plan, backend, specs, ApplyOptions(**options), sleep=clock.sleep, clock=clock)


def outcomes(result: ApplyResult) -> dict[str, str]:
    return {r.route: r.outcome for r in result.results}


@pytest.fixture
def mixed() -> tuple[RecordingBackend, Plan, dict[str, RouteSpec]]:
    """Three creates, three updates, three deletes against a seeded backend."""
    backend = RecordingBackend()
    return backend, *seed_mixed(backend)


def seed_mixed(backend: RecordingBackend) -> tuple[Plan, dict[str, RouteSpec]]:
    """Seed ``backend`` for three creates, three updates and three deletes; their plan."""
    changes: list[Change] = []
    specs: dict[str, RouteSpec] = {}
    for i in range(3):
        changes.append(create(f"new-{i}", spec(f"new{i}.acme.org")))
        specs[f"new-{i}"] = spec(f"new{i}.acme.org")
        live = backend.seed(f"upd-{i}", spec(f"upd{i}.acme.org", "old"))
        changes.append(update(f"upd-{i}", live, spec(f"upd{i}.acme.org", "new", secret=True)))
        specs[f"upd-{i}"] = spec(f"upd{i}.acme.org", "new", secret=True)
        changes.append(delete(f"del-{i}", backend.seed(f"del-{i}", spec(f"del{i}.acme.org"))))
    # Interleaved on purpose: the applier, not the plan's order, makes the phases.
    return plan_of(reversed(changes)), specs


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
    specs = resolve_desired_specs(plan, {n: d.spec for n, d in desired.items()})
    result = run(plan, backend, specs)
    assert outcomes(result) == {"blog": "applied", "shop": "applied", "gone": "applied"}
    shop = backend.get_route("shop")
    assert shop is not None and shop.version != old.version
    assert shop.labels[LABEL_OWNER] == OWNER
    assert not make_plan(desired, backend.list_routes(), options).has_changes


# -- conflicts ------------------------------------------------------------------------------


def test_conflicts_are_classified_and_never_written() -> None:
    backend = RecordingBackend()
    upd = backend.seed("upd", spec("upd.acme.org", "v1"))
    dele = backend.seed("del", spec("del.acme.org"))
    gone = backend.seed("gone", spec("gone.acme.org"))
    plan = plan_of(
        [
            create("new", spec("new.acme.org")),
            update("upd", upd, spec("upd.acme.org", "v2")),
            update("gone", gone, spec("gone.acme.org", "v2")),
            delete("del", dele),
        ]
    )
    backend.sneak("new", spec("new.acme.org", "someone-else"))
    backend.sneak("upd", spec("upd.acme.org", "hotfix"))
    backend.sneak("gone", None)
    backend.sneak("del", spec("del.acme.org", "revived"))
    backend.write_count = 0
    specs = {"new": spec("new.acme.org"), "upd": spec("upd.acme.org", "v2")}
    specs["gone"] = spec("gone.acme.org", "v2")
    result = run(plan, backend, specs)
    assert outcomes(result) == {
        "new": "conflict",
        "upd": "conflict",
        "gone": "conflict",
        "del": "not-attempted",
    }
    assert backend.write_count == 0
    assert result.summary()["failed"] == 3
    by_route = {r.route: r for r in result.results}
    assert "routes plan" in by_route["upd"].message
    assert "deleted" in by_route["gone"].message


def test_delete_conflict_when_the_route_changed() -> None:
    backend = RecordingBackend()
    dele = backend.seed("del", spec("del.acme.org"))
    backend.sneak("del", spec("del.acme.org", "revived"))
    backend.write_count = 0
    result = run(plan_of([delete("del", dele)], desired_count=1), backend, {})
    assert outcomes(result) == {"del": "conflict"}
    assert backend.get_route("del") is not None


def test_losing_a_race_to_the_same_write_is_already_applied() -> None:
    backend = RecordingBackend()
    live = backend.seed("shop", spec("shop.acme.org", "v1"))
    wanted = spec("shop.acme.org", "v2")
    backend.before_write = lambda op, name: backend.sneak(name, wanted)
    result = run(plan_of([update("shop", live, wanted)]), backend, {"shop": wanted})
    assert outcomes(result) == {"shop": "already-applied"}


def test_losing_a_race_to_a_different_write_is_a_conflict() -> None:
    backend = RecordingBackend()
    wanted = spec("shop.acme.org", "v2")
    backend.before_write = lambda op, name: backend.sneak(name, spec("shop.acme.org", "other"))
    result = run(plan_of([create("shop", wanted)]), backend, {"shop": wanted})
    assert outcomes(result) == {"shop": "conflict"}
    live = backend.get_route("shop")
    assert live is not None and live.spec.paths[0].service == "other"


# -- freshness of saved plans ---------------------------------------------------------------


def test_stale_saved_plan_is_refused_with_the_route_named(mixed: Any) -> None:
    backend, plan, _specs = mixed
    backend.sneak("upd-2", spec("upd2.acme.org", "hotfix"))
    backend.sneak("new-0", spec("new0.acme.org", "squatter"))
    backend.write_count = 0
    with pytest.raises(StalePlanError) as caught:
        check_fresh(plan, backend)
    first, other = [c.route for c in plan.changes if c.route in ("upd-2", "new-0")]
    assert caught.value.message == f"plan is stale: route {first} changed since the plan was made"
    assert caught.value.hint is not None and "routes plan" in caught.value.hint
    assert other in caught.value.hint
    assert backend.write_count == 0


def test_routes_the_plan_does_not_touch_may_change_freely(mixed: Any) -> None:
    backend, plan, _specs = mixed
    backend.sneak("bystander", spec("other.acme.org"))
    check_fresh(plan, backend)


def test_half_applied_saved_plan_passes_freshness(mixed: Any) -> None:
    backend, plan, specs = mixed
    backend.faults[("delete", "del-0")] = [InvalidSpecError("refused")]
    first = run(plan, backend, specs)
    assert outcomes(first)["del-0"] == "failed"
    saved = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    check_fresh(saved, backend)
    second = run(saved, backend, resolve_desired_specs(saved, specs))
    assert second.ok and outcomes(second)["del-0"] == "applied"


def test_deleted_create_target_and_recreated_delete_target_are_stale() -> None:
    backend = RecordingBackend()
    live = backend.seed("old", spec("old.acme.org"))
    plan = plan_of([delete("old", live)], desired_count=1)
    backend.sneak("old", None)
    check_fresh(plan, backend)  # gone already: as the plan wants it
    backend.sneak("old", spec("old.acme.org", "back"))
    with pytest.raises(StalePlanError, match="route old changed"):
        check_fresh(plan, backend)


# -- desired specs for saved plans ----------------------------------------------------------


def test_saved_plan_takes_secrets_from_the_loaded_descriptors() -> None:
    wanted = spec("shop.acme.org", secret=True)
    saved = Plan.from_dict(json.loads(json.dumps(plan_of([create("shop", wanted)]).to_dict())))
    assert SECRET_HASH not in json.dumps(saved.to_dict())
    assert resolve_desired_specs(saved, {"shop": wanted}) == {"shop": wanted}


def test_saved_plan_without_secrets_needs_no_descriptors() -> None:
    wanted = spec("blog.acme.org")
    saved = Plan.from_dict(json.loads(json.dumps(plan_of([create("blog", wanted)]).to_dict())))
    assert resolve_desired_specs(saved, None) == {"blog": wanted}


def test_changed_descriptors_make_a_secret_plan_stale() -> None:
    plan = plan_of([create("shop", spec("shop.acme.org", secret=True))])
    with pytest.raises(StalePlanError) as caught:
        resolve_desired_specs(plan, {"shop": spec("shop.acme.org", "changed", secret=True)})
    assert "descriptors of route shop changed" in caught.value.message
    with pytest.raises(StalePlanError):
        resolve_desired_specs(plan, None)


def test_edited_plan_file_is_refused() -> None:
    change = create("blog", spec("blog.acme.org"))
    tampered = replace(change, after=spec("evil.acme.org").to_dict())
    with pytest.raises(PlanError, match="after_fingerprint"):
        resolve_desired_specs(plan_of([tampered]), None)


def test_apply_refuses_to_start_without_a_spec_for_every_write() -> None:
    backend = RecordingBackend()
    with pytest.raises(PlanError, match="shop"):
        run(plan_of([create("shop", spec("shop.acme.org"))]), backend, {})
    assert backend.calls == []


# -- retries --------------------------------------------------------------------------------


def test_transient_failures_are_retried_until_success() -> None:
    backend = RecordingBackend()
    backend.faults[("create", "shop")] = [
        TransientBackendError("503 from memory:test"),
        TransientBackendError("connect timeout"),
    ]
    clock = FakeClock()
    wanted = spec("shop.acme.org")
    result = run(plan_of([create("shop", wanted)]), backend, {"shop": wanted}, clock)
    assert result.results[0].outcome == "applied"
    assert result.results[0].attempts == 3
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 20.0 for s in clock.sleeps)


def test_retry_after_is_honoured() -> None:
    backend = RecordingBackend()
    backend.faults[("create", "shop")] = [TransientBackendError("429", retry_after=7.5)]
    clock = FakeClock()
    wanted = spec("shop.acme.org")
    result = run(plan_of([create("shop", wanted)]), backend, {"shop": wanted}, clock)
    assert result.ok and result.results[0].attempts == 2
    assert clock.sleeps and clock.sleeps[0] >= 7.5


def test_a_retry_after_an_ambiguous_failure_reads_first() -> None:
    """A failed write may have landed: the retry reads, so it never writes twice."""
    backend = RecordingBackend()
    backend.faults[("get", "shop")] = [TransientBackendError("502")]
    backend.faults[("create", "shop")] = [TransientBackendError("503")]
    wanted = spec("shop.acme.org")
    result = run(plan_of([create("shop", wanted)]), backend, {"shop": wanted})
    assert result.ok and result.results[0].attempts == 3
    assert backend.calls == [
        ("create", "shop"),
        ("get", "shop"),
        ("get", "shop"),
        ("create", "shop"),
    ]


def test_conditional_backends_write_without_reading_when_the_plan_still_holds() -> None:
    """The write's condition (the version the plan saw) does the read's job."""
    backend = RecordingBackend()
    old = backend.seed("upd", spec("old.acme.org"))
    gone = backend.seed("del", spec("del.acme.org"))
    wanted = spec("new.acme.org")
    plan = plan_of([create("new", wanted), update("upd", old, wanted), delete("del", gone)])
    result = run(plan, backend, {"new": wanted, "upd": wanted})
    assert [r.outcome for r in result.results] == ["applied"] * 3
    assert [op for op, _ in backend.calls] == ["create", "replace", "delete"]


def test_a_failed_condition_falls_back_to_read_and_classify() -> None:
    backend = RecordingBackend()
    old = backend.seed("upd", spec("old.acme.org"))
    wanted = spec("new.acme.org")
    plan = plan_of([update("upd", old, wanted), create("dup", wanted)])
    backend.replace_route("upd", wanted, LABELS, {}, old.version)  # someone applied it already
    backend.seed("dup", spec("other.acme.org"))  # someone created it differently
    backend.calls.clear()
    result = run(plan, backend, {"upd": wanted, "dup": wanted})
    outcomes = {r.route: r.outcome for r in result.results}
    assert outcomes == {"upd": "already-applied", "dup": "conflict"}
    assert ("get", "upd") in backend.calls and ("get", "dup") in backend.calls


def test_backoff_grows_and_stays_capped() -> None:
    backend = RecordingBackend()
    backend.faults[("create", "shop")] = [TransientBackendError("502") for _ in range(30)]
    clock = FakeClock()
    wanted = spec("shop.acme.org")
    plan = plan_of([create("shop", wanted)])
    run(plan, backend, {"shop": wanted}, clock, max_attempts=12, backoff_base=1.0)
    assert len(clock.sleeps) == 11
    assert max(clock.sleeps) <= 20.0
    assert clock.sleeps[0] <= 1.0


def test_permanent_transient_failure_gives_up_after_max_attempts() -> None:
    backend = RecordingBackend()
    backend.faults[("create", "a")] = [TransientBackendError(f"503 #{i}") for i in range(10)]
    clock = FakeClock()
    plan = plan_of([create("a", spec("a.acme.org")), create("b", spec("b.acme.org"))])
    specs = {"a": spec("a.acme.org"), "b": spec("b.acme.org")}
    result = run(plan, backend, specs, clock, max_attempts=4)
    failed = result.results[0]
    assert (failed.outcome, failed.attempts) == ("failed", 4)
    assert "503 #3" in failed.message
    assert result.summary() == {"applied": 1, "already-applied": 0, "failed": 1, "not-attempted": 0}
    assert not result.ok
    assert len(clock.sleeps) == 3


def test_a_non_transient_error_is_not_retried() -> None:
    backend = RecordingBackend()
    backend.faults[("create", "a")] = [InvalidSpecError("host not registered")]
    clock = FakeClock()
    result = run(
        plan_of([create("a", spec("a.acme.org"))]), backend, {"a": spec("a.acme.org")}, clock
    )
    assert (result.results[0].outcome, result.results[0].attempts) == ("failed", 1)
    assert "host not registered" in result.results[0].message
    assert clock.sleeps == []


def test_an_unexpected_exception_fails_only_its_route() -> None:
    backend = RecordingBackend()
    backend.faults[("create", "a")] = [KeyError("boom")]
    plan = plan_of([create("a", spec("a.acme.org")), create("b", spec("b.acme.org"))])
    result = run(plan, backend, {"a": spec("a.acme.org"), "b": spec("b.acme.org")})
    assert outcomes(result) == {"a": "failed", "b": "applied"}
    assert result.results[0].message.startswith("KeyError")


# -- guards ---------------------------------------------------------------------------------


def _many_deletes(n: int) -> tuple[RecordingBackend, Plan]:
    backend = RecordingBackend()
    changes = [
        delete(f"r{i:02d}", backend.seed(f"r{i:02d}", spec(f"r{i}.acme.org"))) for i in range(n)
    ]
    return backend, plan_of(changes, desired_count=1)


def test_more_deletes_than_max_deletes_is_refused() -> None:
    backend, plan = _many_deletes(12)
    with pytest.raises(GuardError) as caught:
        run(plan, backend, {})
    assert "refusing to delete 12 routes (more than --max-deletes 10)" in caught.value.message
    assert "pass --max-deletes 12 if intended" in caught.value.message
    assert backend.write_count == 0
    assert run(plan, backend, {}, max_deletes=12).count("applied") == 12


def test_pruning_to_an_empty_desired_set_needs_allow_empty() -> None:
    backend = RecordingBackend()
    plan = plan_of([delete("only", backend.seed("only", spec("only.acme.org")))], desired_count=0)
    with pytest.raises(GuardError, match="desired set is empty") as caught:
        run(plan, backend, {})
    assert caught.value.hint is not None and "--allow-empty" in caught.value.hint
    assert backend.write_count == 0
    assert outcomes(run(plan, backend, {}, allow_empty=True)) == {"only": "applied"}


def test_plan_with_errors_is_refused_naming_them() -> None:
    plan = replace(
        plan_of([create("a", spec("a.acme.org"))]),
        diagnostics=(
            Diagnostic("W1", "warning", "just a warning"),
            Diagnostic("E1", "error", "host is not registered", file="routes/a.yaml", line=3),
        ),
    )
    with pytest.raises(GuardError) as caught:
        check_guards(plan, ApplyOptions())
    assert "routes/a.yaml:3: host is not registered" in caught.value.message
    assert "just a warning" not in caught.value.message


# -- journal --------------------------------------------------------------------------------


def test_journal_records_the_run_and_never_a_secret(mixed: Any, tmp_path: Path) -> None:
    backend, plan, specs = mixed
    backend.faults[("replace", "upd-0")] = [TransientBackendError("503 busy")]
    journal_dir = tmp_path / ".routes" / "journal"
    result = run(plan, backend, specs, journal_dir=journal_dir)
    assert result.journal is not None
    path = Path(result.journal)
    assert path.parent == journal_dir and path.suffix == ".jsonl"
    text = path.read_text(encoding="utf-8")
    assert SECRET_HASH not in text
    events = [json.loads(line) for line in text.splitlines()]
    assert events == read_journal(path)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run-start" and kinds[-1] == "run-end"
    start = events[0]
    assert start["backend"] == "memory:test" and start["owner"] == OWNER
    assert {r["route"] for r in start["routes"]} == {c.route for c in plan.changes}
    results = [e for e in events if e["event"] == "result"]
    assert sorted(e["route"] for e in results) == sorted(c.route for c in plan.changes)
    assert all({"action", "outcome", "attempts", "version", "time"} <= e.keys() for e in results)
    assert [e["route"] for e in events if e["event"] == "retry"] == ["upd-0"]
    assert events[-1]["report"] == result.summary()


def test_each_run_gets_its_own_journal_file(mixed: Any, tmp_path: Path) -> None:
    backend, plan, specs = mixed
    first = run(plan, backend, specs, journal_dir=tmp_path)
    second = run(plan, backend, specs, journal_dir=tmp_path)
    assert first.journal != second.journal
    assert len(list(tmp_path.glob("*.jsonl"))) == 2


def test_no_journal_without_a_folder(mixed: Any) -> None:
    backend, plan, specs = mixed
    assert run(plan, backend, specs).journal is None


KILL_SCRIPT = """
import sys, threading
from pathlib import Path
from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.local import open_local
from reconciler.backends.memory import MemoryBackend
from reconciler.model import RouteSpec
from reconciler.plan import Change, Plan

class Stuck(MemoryBackend):
    def create_route(self, name, spec, labels, annotations):
        if name == "stuck":
            threading.Event().wait()  # hangs until the process is killed
        return super().create_route(name, spec, labels, annotations)

specs = {n: RouteSpec.from_dict({"host": n + ".acme.org", "routes": [
    {"prefix": "/", "route": {"service": "s"}}]}) for n in ("done", "stuck")}
changes = tuple(Change(route=n, action="create", after=s.to_dict(redact=True),
                       after_fingerprint=s.fingerprint()) for n, s in specs.items())
plan = Plan(backend="memory:", owner="o", tool_version="0", changes=changes, desired_count=2)
apply_plan(plan, Stuck(), specs, ApplyOptions(parallelism=1, journal_dir=Path(sys.argv[1])))
"""


def test_sigkill_mid_run_leaves_every_completed_line_readable(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        events: list[dict[str, Any]] = []
        while time.monotonic() < deadline and proc.poll() is None:
            files = list(tmp_path.glob("*.jsonl"))
            events = read_journal(files[0]) if files else []
            if any(e.get("route") == "done" for e in events):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run should still be stuck on its second route"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    (journal,) = tmp_path.glob("*.jsonl")
    lines = journal.read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]  # every line complete and parseable
    assert [e["event"] for e in parsed] == ["run-start", "result"]
    assert parsed[1]["route"] == "done" and parsed[1]["outcome"] == "applied"


def test_torn_last_line_leaves_earlier_lines_readable(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"event": "run-start"}\n{"event": "result", "rou', encoding="utf-8")
    assert read_journal(path) == [{"event": "run-start"}]


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


# -- wait -----------------------------------------------------------------------------------


class SlowReadyBackend(RecordingBackend):
    """Routes report Ready only after ``polls`` batch reads (or never)."""

    def __init__(self, polls: int | None) -> None:
        super().__init__()
        self.polls = polls
        self.batch_reads = 0

    def get_routes(self, names: Iterable[str]) -> dict[str, LiveRoute]:
        self.batch_reads += 1
        found = super().get_routes(names)
        if self.polls is not None and self.batch_reads >= self.polls:
            return found
        pending = (
            Condition("HostValidation", "True", "HostValidated"),
            Condition("Ready", "False", "CertificatePending", "waiting for the certificate"),
        )
        return {name: replace(route, conditions=pending) for name, route in found.items()}


def test_wait_polls_until_every_written_route_is_ready(tmp_path: Path) -> None:
    backend = SlowReadyBackend(polls=4)
    wanted = {"a": spec("a.acme.org"), "b": spec("b.acme.org")}
    plan = plan_of([create("a", wanted["a"]), create("b", wanted["b"])])
    clock = FakeClock()
    result = run(plan, backend, wanted, clock, wait=True, poll_interval=2.0, journal_dir=tmp_path)
    assert result.ok
    assert backend.batch_reads == 4
    assert clock.sleeps == [2.0, 2.0, 2.0]
    events = read_journal(Path(str(result.journal)))
    assert {e["route"] for e in events if e.get("state") == "ready"} == {"a", "b"}


def test_wait_gives_up_after_the_timeout_and_blocks_deletes() -> None:
    backend = SlowReadyBackend(polls=None)
    old = backend.seed("old", spec("old.acme.org"))
    wanted = spec("new.acme.org")
    plan = plan_of([create("new", wanted), delete("old", old)])
    clock = FakeClock()
    result = run(plan, backend, {"new": wanted}, clock, wait=True, wait_timeout=30, poll_interval=4)
    new = result.results[0]
    assert new.outcome == "failed"
    assert new.message.startswith("not Ready after 30s: ")
    assert "CertificatePending" in new.message and "waiting for the certificate" in new.message
    assert outcomes(result)["old"] == "not-attempted"
    assert backend.get_route("old") is not None
    assert sum(clock.sleeps) == pytest.approx(30)


def test_wait_skips_routes_that_were_already_applied() -> None:
    backend = SlowReadyBackend(polls=None)
    wanted = spec("a.acme.org")
    backend.seed("a", wanted)
    result = run(plan_of([create("a", wanted)]), backend, {"a": wanted}, wait=True)
    assert outcomes(result) == {"a": "already-applied"}
    assert backend.batch_reads == 0


# -- on the embedded local (SQLite) backend -------------------------------------------------


def _desired(specs: Mapping[str, RouteSpec]) -> RouteSet:
    return RouteSet(
        {n: DesiredRoute(n, s, SourceLocation(f"routes/{n}.yaml")) for n, s in specs.items()}
    )


def test_local_backend_apply_in_parallel_then_nothing_left_to_do(tmp_path: Path) -> None:
    backend = open_local(f"local:{tmp_path / 'state.db'}")
    try:
        wanted = {f"r-{i:02d}": spec(f"r{i}.acme.org", secret=i % 2 == 0) for i in range(25)}
        options = PlanOptions(owner=OWNER, backend_url=backend.url, tool_version="0")
        plan = make_plan(_desired(wanted), backend.list_routes(), options)
        result = apply_plan(plan, backend, resolve_desired_specs(plan, wanted), ApplyOptions())
        assert result.count("applied") == 25
        assert not make_plan(_desired(wanted), backend.list_routes(), options).has_changes
        again = apply_plan(plan, backend, wanted, ApplyOptions())
        assert again.count("already-applied") == 25
        live = backend.get_route("r-00")
        assert live is not None and live.spec == wanted["r-00"]
    finally:
        backend.close()


def test_local_backend_saved_plan_goes_stale_when_another_writer_steps_in(tmp_path: Path) -> None:
    url = f"local:{tmp_path / 'state.db'}"
    backend, other = open_local(url), open_local(url)
    try:
        backend.create_route("shop", spec("shop.acme.org", "v1"), LABELS, {})
        options = PlanOptions(owner=OWNER, backend_url=url, tool_version="0")
        wanted = {"shop": spec("shop.acme.org", "v2")}
        plan = make_plan(_desired(wanted), backend.list_routes(), options)
        saved = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
        live = other.get_route("shop")
        assert live is not None
        other.replace_route("shop", spec("shop.acme.org", "v3"), LABELS, {}, live.version)
        with pytest.raises(StalePlanError, match=r"^plan is stale: route shop changed since"):
            check_fresh(saved, backend)
    finally:
        backend.close()
        other.close()


def test_local_backend_wait_until_the_hostname_is_registered(tmp_path: Path) -> None:
    backend = open_local(f"local:{tmp_path / 'state.db'}")
    try:
        backend.store.set_hostname_mode("registered")
        wanted = {"shop": spec("shop.acme.org")}
        plan = plan_of([create("shop", wanted["shop"])])
        clock = FakeClock()

        def sleep(seconds: float) -> None:
            clock.sleep(seconds)
            if len(clock.sleeps) == 2:  # an operator registers the host meanwhile
                backend.store.add_hostname("shop.acme.org")

        opts = ApplyOptions(wait=True, poll_interval=1.0)
        result = apply_plan(plan, backend, wanted, opts, sleep=sleep, clock=clock)
        assert result.ok and len(clock.sleeps) == 2

        late = plan_of([create("blog", spec("blog.acme.org"))])
        opts = ApplyOptions(wait=True, wait_timeout=5, poll_interval=1.0)
        timed_out = apply_plan(
            late, backend, {"blog": spec("blog.acme.org")}, opts, sleep=clock.sleep, clock=clock
        )
        assert timed_out.results[0].outcome == "failed"
        assert timed_out.results[0].message.startswith("not Ready after 5s: ")
        assert "not a registered hostname" in timed_out.results[0].message
    finally:
        backend.close()


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
