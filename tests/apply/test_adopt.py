"""Applying an adoption (``--adopt``): written once with this owner's labels, then
``already-applied``; taken over by someone else in between, a conflict. Against the
memory backend and the real local SQLite store, through the applier."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.apply.verdict import target_of, verdict_of
from reconciler.backends.local import open_local
from reconciler.backends.memory import MemoryBackend
from reconciler.backends.options import LocalOptions
from reconciler.model import LiveRoute, RouteSpec
from reconciler.plan import Change, Plan
from tests.apply.support import LABELS, OWNER, spec

SHOP = spec("shop.acme.org")
FOREIGN = {"team": "web"}


def adopt(live: LiveRoute, wanted: RouteSpec = SHOP) -> Change:
    return Change(
        route=live.name,
        action="adopt",
        before=live.spec.to_dict(redact=True),
        after=wanted.to_dict(redact=True),
        live_version=live.version,
        live_fingerprint=live.spec.fingerprint(),
        after_fingerprint=wanted.fingerprint(),
        labels={**live.labels, **LABELS},
    )


def test_an_equal_unlabelled_route_is_written_not_already_applied() -> None:
    route = LiveRoute("shop", SHOP, "v1", labels=FOREIGN)
    change = adopt(route)
    assert verdict_of(change, route, target_of(change, SHOP)).outcome is None  # write it
    labelled = LiveRoute("shop", SHOP, "v2", labels={**FOREIGN, **LABELS})
    assert verdict_of(change, labelled, target_of(change, SHOP)).outcome == "already-applied"


def test_a_route_another_owner_took_meanwhile_is_a_conflict() -> None:
    change = adopt(LiveRoute("shop", SHOP, "v1"))
    taken = LiveRoute("shop", SHOP, "v2", labels={"managed-by": "routes", "routes/owner": "b/c"})
    verdict = verdict_of(change, taken, target_of(change, SHOP))
    assert verdict.outcome == "conflict"
    assert "taken over by owner b/c" in verdict.message


@pytest.mark.parametrize("store", ["memory", "local"])
def test_an_adoption_applies_once_and_keeps_the_routes_own_labels(
    store: str, tmp_path: Path
) -> None:
    backend = (
        MemoryBackend("memory:test")
        if store == "memory"
        else open_local("local:state.db", LocalOptions(tmp_path))
    )
    live = spec("shop.acme.org", "old")
    found = backend.create_route("shop", live, FOREIGN, {"note": "hand-made"})
    plan = Plan(backend=backend.url, owner=OWNER, tool_version="t", changes=(adopt(found),))
    options = ApplyOptions(max_attempts=1)
    first = apply_plan(plan, backend, {"shop": SHOP}, options)
    assert [(r.action, r.outcome) for r in first.results] == [("adopt", "applied")]
    now = backend.get_route("shop")
    assert now is not None and now.spec == SHOP
    assert now.labels == {**FOREIGN, **LABELS}
    again = apply_plan(plan, backend, {"shop": SHOP}, options)
    assert [r.outcome for r in again.results] == ["already-applied"]
    backend.close()
