"""One route of an apply (DESIGN §7): conflicts, lost races, conditional writes, retries."""

from __future__ import annotations

from reconciler.errors import InvalidSpecError, TransientBackendError
from tests.apply.support import (
    LABELS,
    FakeClock,
    RecordingBackend,
    create,
    delete,
    outcomes,
    plan_of,
    run,
    spec,
    update,
)

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
