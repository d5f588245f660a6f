"""``--wait`` (DESIGN §7): poll written routes until Ready, give up at the timeout."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.apply.journal import read_journal
from reconciler.backends.local import open_local
from reconciler.model import Condition, LiveRoute
from tests.apply.support import (
    FakeClock,
    RecordingBackend,
    create,
    delete,
    outcomes,
    plan_of,
    run,
    spec,
)

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
