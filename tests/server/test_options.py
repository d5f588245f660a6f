"""The fault policy of ``routes serve --faults``: deterministic per seed, at the rate and
kinds asked for."""

from __future__ import annotations

from collections import Counter

from reconciler.server.options import FAULT_KINDS, FaultPolicy


def decisions(policy: FaultPolicy, count: int = 2000) -> list[str | None]:
    return [policy.decide("PUT", "/v1/routes/shop", serial) for serial in range(count)]


def test_the_same_seed_gives_the_same_faults_and_another_seed_others() -> None:
    assert decisions(FaultPolicy(seed=7, rate=0.2)) == decisions(FaultPolicy(seed=7, rate=0.2))
    assert decisions(FaultPolicy(seed=7, rate=0.2)) != decisions(FaultPolicy(seed=8, rate=0.2))


def test_the_rate_and_the_kinds_are_honoured() -> None:
    seen = Counter(decisions(FaultPolicy(seed=1, rate=0.2), 5000))
    assert 0.17 < 1 - seen[None] / 5000 < 0.23
    assert set(seen) - {None} == set(FAULT_KINDS)
    only = Counter(decisions(FaultPolicy(seed=1, rate=1.0, kinds=("drop",)), 200))
    assert only == {"drop": 200}
    assert set(decisions(FaultPolicy(seed=1, rate=0.0))) == {None}


def test_health_is_exempt_and_a_failing_route_always_fails() -> None:
    policy = FaultPolicy(rate=1.0, failing_routes=frozenset({"doomed"}))
    assert policy.decide("GET", "/healthz", 0) is None
    assert policy.decide("GET", "/v1/routes/doomed", 9) == "always"
