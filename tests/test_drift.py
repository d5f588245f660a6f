"""Drift classification (reconciler/drift.py), one tiny scenario a row."""

from __future__ import annotations

import pytest

from reconciler.diagnostics import CODE_PROTECTED, diagnostic
from reconciler.drift import AppliedBefore, classify_drift
from reconciler.model import ANNOTATION_DIGEST, LiveRoute, RouteSpec
from reconciler.plan import Change, Operation, Plan
from reconciler.spec_diff import FieldDifference

LIVE_SPEC = RouteSpec.from_dict(
    {"host": "shop.acme.org", "routes": [{"prefix": "/", "route": {"service": "shop"}}]}
)
WRITTEN_BY_ROUTES = LIVE_SPEC.fingerprint()
SET_SERVICE = (Operation("set-path-service", prefix="/", before="shop", after="carts"),)
DESCRIBED = {"host": "shop.acme.org", "routes": [{"prefix": "/", "route": {"service": "carts"}}]}


def live_with(digest: str | None) -> LiveRoute:
    """Route shop live, annotated with the digest of the spec routes last wrote (if any)."""
    annotations = {ANNOTATION_DIGEST: digest} if digest is not None else {}
    return LiveRoute("shop", LIVE_SPEC, "v1", annotations=annotations)


def plan_of(*changes: Change, unmanaged: tuple[dict[str, str], ...] = ()) -> Plan:
    return Plan("memory:", "acme/gitops", "0", changes=changes, unmanaged=unmanaged)


# action, what is live, applied by routes before -> finding kind
FINDINGS = [
    ("create", None, False, "not-yet-applied"),
    ("create", None, True, "deleted-out-of-band"),
    ("update", live_with(WRITTEN_BY_ROUTES), False, "not-yet-applied"),
    ("update", live_with("sha256:an-older-spec"), False, "changed-out-of-band"),
    ("update", live_with(None), False, "not-yet-applied"),  # never written by routes
    ("update", None, False, "not-yet-applied"),  # gone since the plan read it
    ("delete", live_with(WRITTEN_BY_ROUTES), True, "not-yet-applied"),
]


@pytest.mark.parametrize(("action", "route", "applied", "kind"), FINDINGS)
def test_drift_finding(action: str, route: LiveRoute | None, applied: bool, kind: str) -> None:
    ops = SET_SERVICE if action == "update" else ()
    before = LIVE_SPEC.to_dict() if action != "create" else None
    after = DESCRIBED if action != "delete" else None
    plan = plan_of(Change("shop", action, operations=ops, before=before, after=after))
    report = classify_drift(plan, {"shop": route} if route else {}, {"shop"} if applied else ())
    assert [(f.route, f.kind) for f in report.findings] == [("shop", kind)]
    assert report.drifted
    if action == "update":
        # Said as a fact about live against described, not as what apply would do.
        assert report.findings[0].differences == (
            FieldDifference("path", "shop", "carts", key="/"),
        )


def test_a_missing_route_described_at_the_last_applied_commit_was_deleted_by_hand() -> None:
    plan = plan_of(Change("shop", "create", after=DESCRIBED), Change("new", "create", after={}))
    applied = AppliedBefore(frozenset({"shop"}), "0123456789abcdef0123")
    kinds = {f.route: (f.kind, f.detail) for f in classify_drift(plan, {}, applied).findings}
    assert kinds["shop"][0] == "deleted-out-of-band"
    assert "described at commit 0123456789ab" in kinds["shop"][1]
    assert kinds["new"] == (
        "not-yet-applied",
        "new route (not described at commit 0123456789ab, the last one applied): apply",
    )


def test_a_protected_route_no_longer_described_is_drift_with_its_live_fields() -> None:
    kept = diagnostic(code=CODE_PROTECTED, message="kept", route="shop")
    plan = Plan("memory:", "acme/gitops", "0", diagnostics=(kept,))
    report = classify_drift(plan, {"shop": live_with(WRITTEN_BY_ROUTES)})
    assert [(f.route, f.kind) for f in report.findings] == [("shop", "not-yet-applied")]
    assert FieldDifference("host", "shop.acme.org", None) in report.findings[0].differences


def test_unmanaged_routes_are_reported_but_are_no_drift() -> None:
    report = classify_drift(plan_of(unmanaged=({"route": "legacy", "host": "old.acme.org"},)), {})
    assert [(f.route, f.kind) for f in report.findings] == [("legacy", "unmanaged")]
    assert not report.drifted
    assert report.counts() == {
        "changed-out-of-band": 0,
        "deleted-out-of-band": 0,
        "not-yet-applied": 0,
        "unmanaged": 1,
    }


def test_no_changes_is_no_drift() -> None:
    report = classify_drift(plan_of(), {})
    assert report.findings == () and not report.drifted
