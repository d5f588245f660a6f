"""Route verdicts (DESIGN §7), one tiny scenario a row: what the live route says to do."""

from __future__ import annotations

import pytest

from reconciler.apply.verdict import after_lost_race, target_of, verdict_of
from reconciler.errors import ConflictError
from reconciler.model import LiveRoute, RouteSpec
from reconciler.plan import Change

WRITE = None  # the verdict that says: write it


def spec(service: str) -> RouteSpec:
    return RouteSpec.from_dict(
        {"host": "shop.acme.org", "routes": [{"prefix": "/", "route": {"service": service}}]}
    )


BEFORE, AFTER, OTHER = spec("before"), spec("after"), spec("someone-else")


def change(action: str) -> Change:
    """A change of route shop as the plan saw it: ``BEFORE`` live at v1, wanting ``AFTER``."""
    return Change(
        route="shop",
        action=action,
        live_version=None if action == "create" else "v1",
        live_fingerprint=None if action == "create" else BEFORE.fingerprint(),
        after_fingerprint=None if action == "delete" else AFTER.fingerprint(),
    )


def live(found: str) -> LiveRoute | None:
    specs = {"before": BEFORE, "after": AFTER, "other": OTHER}
    return None if found == "missing" else LiveRoute("shop", specs[found], "v2")


# action, what is live now -> outcome (None: write it)
VERDICTS = [
    ("create", "missing", WRITE),
    ("create", "after", "already-applied"),
    ("create", "other", "conflict"),
    ("update", "missing", "conflict"),
    ("update", "after", "already-applied"),
    ("update", "before", WRITE),
    ("update", "other", "conflict"),
    ("delete", "missing", "already-applied"),
    ("delete", "before", WRITE),
    ("delete", "after", "conflict"),
    ("delete", "other", "conflict"),
]


@pytest.mark.parametrize(("action", "found", "outcome"), VERDICTS)
def test_verdict(action: str, found: str, outcome: str | None) -> None:
    the_change = change(action)
    route = live(found)
    wanted = None if action == "delete" else AFTER
    verdict = verdict_of(the_change, route, target_of(the_change, wanted))
    assert verdict.outcome == outcome
    if route is not None:  # a write is conditional on the version just read
        assert verdict.version == "v2"
    if outcome == "conflict":  # says which route, so the user knows what to plan again
        assert verdict.message.startswith("route shop ")


def with_password(service: str, digest: str) -> RouteSpec:
    return RouteSpec.from_dict(
        {
            "host": "shop.acme.org",
            "validation": {"httpBasic": {"realm": "shop", "passwordHashes": {"ops": digest}}},
            "routes": [{"prefix": "/", "route": {"service": service}}],
        }
    )


def test_a_route_that_differs_only_in_a_password_hash_is_not_already_applied() -> None:
    # Fingerprints hide secrets, so the comparison is of the whole specs, in memory.
    wanted, stale = (
        with_password("after", "sha256:" + "A" * 43 + "="),
        with_password("after", "sha256:" + "B" * 43 + "="),
    )
    assert wanted.fingerprint() == stale.fingerprint()
    the_change = change("update")
    verdict = verdict_of(the_change, LiveRoute("shop", stale, "v2"), target_of(the_change, wanted))
    assert verdict.outcome == "conflict"
    assert target_of(change("delete"), None) is None


def test_a_secret_changed_since_planning_is_a_conflict_when_the_plan_was_made_here() -> None:
    found, edited = (
        with_password("before", "sha256:" + "A" * 43 + "="),
        with_password("before", "sha256:" + "C" * 43 + "="),
    )
    the_change = Change(
        route="shop",
        action="update",
        live_version="v1",
        live_fingerprint=found.fingerprint(),
        live_digest=found.private_digest(),
    )
    target = target_of(the_change, AFTER)
    assert verdict_of(the_change, LiveRoute("shop", found, "v2"), target).outcome is WRITE
    assert verdict_of(the_change, LiveRoute("shop", edited, "v2"), target).outcome == "conflict"


# what is live after a conditional write was refused -> outcome
LOST_RACES = [("after", "already-applied"), ("before", "conflict"), ("other", "conflict")]


@pytest.mark.parametrize(("found", "outcome"), LOST_RACES)
def test_a_refused_write_is_applied_only_if_someone_wrote_the_same(
    found: str, outcome: str
) -> None:
    the_change = change("update")
    refused = ConflictError("version v1 is gone")
    verdict = after_lost_race(the_change, refused, live(found), target_of(the_change, AFTER))
    assert verdict.outcome == outcome
    if outcome == "conflict":
        assert verdict.message.startswith("version v1 is gone")
