"""Planner scenarios (DESIGN §5 ownership, §6 plan): one tiny scenario per case, plus properties."""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.apply.saved_plan import plan_schema_errors
from reconciler.diagnostics import Diagnostic
from reconciler.model import DesiredRoute, LiveRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.plan import Plan
from reconciler.planner import PlanOptions, compute_operations, is_owned, make_plan

OWNER = "acme/gitops"
OURS = {"managed-by": "routes", "routes/owner": OWNER}
THEIRS = {"managed-by": "routes", "routes/owner": "team/other"}
OPTIONS = PlanOptions(owner=OWNER, backend_url="local:.routes/state.db", tool_version="0.1.0")

SHOP: dict[str, Any] = {
    "host": "shop.acme.org",
    "routes": [
        {"prefix": "/carts", "route": {"service": "carts"}},
        {"prefix": "/product", "route": {"service": "product"}},
    ],
}


def shop(**fields: Any) -> dict[str, Any]:
    """SHOP with top-level fields replaced (None removes a field)."""
    out = copy.deepcopy(SHOP)
    for key, value in fields.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def paths(*rules: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"prefix": prefix, "route": {"service": service}} for prefix, service in rules]


def desired_set(routes: Mapping[str, dict[str, Any]]) -> RouteSet:
    return RouteSet(
        {
            name: DesiredRoute(
                name, RouteSpec.from_dict(raw), SourceLocation(f"routes/{name}.yaml", line=2)
            )
            for name, raw in routes.items()
        }
    )


def live_route(name: str, raw: dict[str, Any], labels: Mapping[str, str] = OURS) -> LiveRoute:
    return LiveRoute(name, RouteSpec.from_dict(raw), version="7", labels=dict(labels))


def plan_for(desired: Mapping[str, dict[str, Any]], live: list[LiveRoute], **options: Any) -> Plan:
    plan = make_plan(desired_set(desired), live, replace(OPTIONS, **options))
    assert plan_schema_errors(plan.to_dict()) == []
    return plan


BASIC = {"httpBasic": {"realm": "ops", "passwordHashes": {"admin": "sha256:AAAA"}}}
CA = {"clientValidationCa": {"name": "root-ca"}}


@dataclass(frozen=True)
class Scenario:
    desired: dict[str, dict[str, Any]]
    live: list[LiveRoute]
    actions: dict[str, str]  # route -> action expected in the plan
    operations: list[dict[str, Any]] | None = None  # of the single update, when given
    risks: tuple[str, ...] = ()  # of the single change, when there is one
    codes: tuple[tuple[str, str], ...] = ()  # (code, severity) of the diagnostics
    unmanaged: list[dict[str, str]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    unchanged: int = 0


SCENARIOS = {
    "create": Scenario({"shop": SHOP}, [], {"shop": "create"}),
    "create with CORS *": Scenario(
        {"shop": shop(corsPolicy={"allowOrigins": ["*"]})},
        [],
        {"shop": "create"},
        risks=("cors-wildcard",),
    ),
    "unchanged": Scenario({"shop": SHOP}, [live_route("shop", SHOP)], {}, unchanged=1),
    "set-host": Scenario(
        {"shop": shop(host="new.acme.org")},
        [live_route("shop", SHOP)],
        {"shop": "update"},
        [{"op": "set-host", "before": "shop.acme.org", "after": "new.acme.org"}],
        risks=("host-changed",),
    ),
    "add-path": Scenario(
        {"shop": shop(routes=[*SHOP["routes"], *paths(("/inventory", "inventory"))])},
        [live_route("shop", SHOP)],
        {"shop": "update"},
        [{"op": "add-path", "prefix": "/inventory", "service": "inventory"}],
    ),
    "remove-path": Scenario(
        {"shop": shop(routes=paths(("/carts", "carts")))},
        [live_route("shop", SHOP)],
        {"shop": "update"},
        [{"op": "remove-path", "prefix": "/product", "service": "product"}],
        risks=("path-removed",),
    ),
    "set-path-service": Scenario(
        {"shop": shop(routes=paths(("/carts", "carts-v2"), ("/product", "product")))},
        [live_route("shop", SHOP)],
        {"shop": "update"},
        [{"op": "set-path-service", "prefix": "/carts", "before": "carts", "after": "carts-v2"}],
    ),
    "set-path-options": Scenario(
        {
            "shop": shop(
                routes=[
                    {"prefix": "/carts", "route": {"service": "carts"}, "enableWebsockets": True},
                    *paths(("/product", "product")),
                ]
            )
        },
        [live_route("shop", SHOP)],
        {"shop": "update"},
        [
            {
                "op": "set-path-options",
                "prefix": "/carts",
                "service": "carts",
                "before": {},
                "after": {"enableWebsockets": True},
            }
        ],
    ),
    "set-cors to *": Scenario(
        {"shop": shop(corsPolicy={"allowOrigins": ["*"], "allowMethods": ["get"]})},
        [live_route("shop", SHOP)],
        {"shop": "update"},
        [
            {
                "op": "set-cors",
                "before": None,
                "after": {"allowOrigins": ["*"], "allowMethods": ["GET"]},
            }
        ],
        risks=("cors-wildcard",),
    ),
    "set-cors keeping *": Scenario(
        {"shop": shop(corsPolicy={"allowOrigins": ["*"], "allowMethods": ["GET"]})},
        [live_route("shop", shop(corsPolicy={"allowOrigins": ["*"]}))],
        {"shop": "update"},
        [
            {
                "op": "set-cors",
                "before": {"allowOrigins": ["*"]},
                "after": {"allowOrigins": ["*"], "allowMethods": ["GET"]},
            }
        ],
    ),
    "set-tls removes mTLS": Scenario(
        {"shop": SHOP},
        [live_route("shop", shop(tls=CA))],
        {"shop": "update"},
        [{"op": "set-tls", "before": {"clientValidationCa": {"name": "root-ca"}}, "after": None}],
        risks=("mtls-removed",),
    ),
    "set-tls server certificate": Scenario(
        {"shop": shop(tls={"serverCertificate": {"name": "cert-2"}})},
        [live_route("shop", shop(tls={"serverCertificate": {"name": "cert-1"}}))],
        {"shop": "update"},
        [
            {
                "op": "set-tls",
                "before": {"serverCertificate": {"name": "cert-1"}},
                "after": {"serverCertificate": {"name": "cert-2"}},
            }
        ],
    ),
    "set-validation removes basic auth": Scenario(
        {"shop": SHOP},
        [live_route("shop", shop(validation=BASIC))],
        {"shop": "update"},
        [
            {
                "op": "set-validation",
                "before": {
                    "httpBasic": {"realm": "ops", "passwordHashes": {"admin": "(sensitive value)"}}
                },
                "after": None,
            }
        ],
        risks=("basic-auth-removed",),
    ),
    "set-validation password hash only": Scenario(
        {
            "shop": shop(
                validation={"httpBasic": {"realm": "ops", "passwordHashes": {"admin": "sha256:B"}}}
            )
        },
        [live_route("shop", shop(validation=BASIC))],
        {"shop": "update"},
        [
            {
                "op": "set-validation",
                "before": {
                    "httpBasic": {"realm": "ops", "passwordHashes": {"admin": "(sensitive value)"}}
                },
                "after": {
                    "httpBasic": {"realm": "ops", "passwordHashes": {"admin": "(sensitive value)"}}
                },
                "changed": ["httpBasic.passwordHashes.admin"],
            }
        ],
    ),
    "zero-noise: reordered, cased, duplicated": Scenario(
        {
            "shop": {
                "host": "Shop.ACME.org.",
                "corsPolicy": {
                    "allowOrigins": [
                        "https://www.acme.org/",
                        "HTTPS://WWW.ACME.ORG",
                        "https://b.org",
                    ],
                    "allowMethods": ["post", "GET", "get"],
                },
                "validation": {
                    "clientCertificate": {
                        "subjectMatches": [{"hasSuffix": ".acme.org"}, {"exact": "c.acme.org"}]
                    }
                },
                "tls": {**CA, "serverCertificate": {}},
                "routes": [
                    {"prefix": "/product", "route": {"service": "product"}},
                    {"prefix": "/carts", "route": {"service": "carts"}, "enableWebsockets": False},
                ],
            }
        },
        [
            LiveRoute(
                "shop",
                RouteSpec.from_dict(
                    shop(
                        corsPolicy={
                            "allowOrigins": ["https://b.org", "https://www.acme.org"],
                            "allowMethods": ["GET", "POST"],
                        },
                        validation={
                            "clientCertificate": {
                                "subjectMatches": [
                                    {"exact": "c.acme.org"},
                                    {"hasSuffix": ".acme.org"},
                                ]
                            }
                        },
                        tls=CA,
                    )
                ),
                version="12",
                labels={**OURS, "team": "web"},
                annotations={"routes/spec-digest": "sha256:stale", "routes/source-commit": "old"},
            )
        ],
        {},
        unchanged=1,
    ),
    "delete with prune": Scenario(
        {},
        [live_route("legacy", SHOP)],
        {"legacy": "delete"},
        risks=("delete",),
        options={"prune": True},
    ),
    "no delete without prune": Scenario(
        {}, [live_route("legacy", SHOP)], {}, codes=(("P010", "info"),)
    ),
    "protected is never deleted": Scenario(
        {},
        [live_route("prod-api", SHOP), live_route("old", SHOP)],
        {"old": "delete"},
        risks=("delete",),
        codes=(("P011", "info"),),
        options={"prune": True, "protected": ("prod-*",)},
    ),
    "unmanaged (no labels) never touched": Scenario(
        {},
        [live_route("legacy", SHOP, labels={})],
        {},
        unmanaged=[{"route": "legacy", "host": "shop.acme.org"}],
        options={"prune": True},
    ),
    "unmanaged (other owner) never touched": Scenario(
        {},
        [live_route("legacy", SHOP, labels=THEIRS)],
        {},
        unmanaged=[{"route": "legacy", "host": "shop.acme.org", "owner": "team/other"}],
        options={"prune": True},
    ),
    "managed-by without owner is unmanaged": Scenario(
        {},
        [live_route("legacy", SHOP, labels={"managed-by": "routes"})],
        {},
        unmanaged=[{"route": "legacy", "host": "shop.acme.org"}],
        options={"prune": True},
    ),
    "desired name clashes with unmanaged route": Scenario(
        {"shop": shop(host="new.acme.org")},
        [live_route("shop", SHOP, labels=THEIRS)],
        {},
        codes=(("P001", "error"),),
        unmanaged=[{"route": "shop", "host": "shop.acme.org", "owner": "team/other"}],
    ),
    "scope ownership without labels": Scenario(
        {"shop-a": shop(host="new.acme.org")},
        [
            live_route("shop-a", SHOP, labels={}),
            live_route("shop-old", SHOP, labels={}),
            live_route("blog", SHOP, labels=OURS),  # labels mean nothing without label support
        ],
        {"shop-a": "update", "shop-old": "delete"},
        unmanaged=[{"route": "blog", "host": "shop.acme.org"}],
        options={"prune": True, "labels_supported": False, "scope": ("shop-*",)},
    ),
    "targets limit the plan": Scenario(
        {"a": SHOP, "b": SHOP},
        [live_route("c", SHOP), live_route("d", SHOP)],
        {"a": "create", "d": "delete"},
        options={"prune": True, "targets": ("a", "d")},
    ),
    "unknown target warns": Scenario(
        {"a": SHOP}, [], {}, codes=(("P020", "warning"),), options={"targets": ("nope",)}
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_scenario(scenario: Scenario) -> None:
    plan = plan_for(scenario.desired, scenario.live, **scenario.options)
    assert {c.route: c.action for c in plan.changes} == scenario.actions
    if scenario.operations is not None:
        (change,) = plan.changes
        assert [op.to_dict() for op in change.operations] == scenario.operations
    if len(plan.changes) == 1:
        assert plan.changes[0].risks == scenario.risks
    assert [(d.code, d.severity) for d in plan.diagnostics] == list(scenario.codes)
    assert [dict(u) for u in plan.unmanaged] == scenario.unmanaged
    assert plan.unchanged == scenario.unchanged


def test_unmanaged_clash_says_where_and_what_to_do() -> None:
    plan = plan_for({"shop": SHOP}, [live_route("shop", SHOP, labels={})])
    (diagnostic,) = plan.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.route) == ("routes/shop.yaml", 2, "shop")
    assert "not managed by" in diagnostic.message
    assert "rename" in diagnostic.message.lower() and "by hand" in diagnostic.message
    assert plan.has_errors and not plan.changes


def test_kept_route_message_tells_how_to_delete() -> None:
    (diagnostic,) = plan_for({}, [live_route("legacy", SHOP)]).diagnostics
    assert 'route "legacy" is no longer in the descriptors' in diagnostic.message
    assert "--prune" in diagnostic.message


def test_create_and_update_carry_ownership_and_provenance() -> None:
    git = {"commit": "abc123", "dirty": False}
    plan = plan_for(
        {"new": SHOP, "shop": shop(host="x.acme.org")}, [live_route("shop", SHOP)], git=git
    )
    create, update = plan.changes
    for change, name in ((create, "new"), (update, "shop")):
        spec = desired_set({name: SHOP if name == "new" else shop(host="x.acme.org")})[name].spec
        assert change.after_fingerprint == spec.fingerprint()
        assert change.labels == OURS
        assert change.annotations == {
            "routes/source-commit": "abc123",
            "routes/source-path": f"routes/{name}.yaml",
            "routes/spec-digest": spec.fingerprint(),
        }
        assert (change.file, change.line) == (f"routes/{name}.yaml", 2)
    assert create.live_version is None and create.live_fingerprint is None
    assert update.live_version == "7"
    assert update.live_fingerprint == RouteSpec.from_dict(SHOP).fingerprint()


def test_delete_has_no_source_and_no_labels() -> None:
    (change,) = plan_for({}, [live_route("legacy", SHOP)], prune=True).changes
    assert (change.reason, change.file, change.line) == ("not-in-configuration", None, None)
    assert change.after is None and change.before == RouteSpec.from_dict(SHOP).to_dict()
    assert change.after_fingerprint is None and dict(change.labels) == {}
    assert change.live_fingerprint == RouteSpec.from_dict(SHOP).fingerprint()


def test_changes_sorted_creates_updates_deletes_by_name() -> None:
    other = shop(host="x.acme.org")
    live = [live_route(n, SHOP) for n in ("u2", "u1", "d2", "d1")]
    plan = plan_for({"c2": SHOP, "c1": SHOP, "u2": other, "u1": other}, live, prune=True)
    assert [(c.action, c.route) for c in plan.changes] == [
        ("create", "c1"),
        ("create", "c2"),
        ("update", "u1"),
        ("update", "u2"),
        ("delete", "d1"),
        ("delete", "d2"),
    ]
    assert plan.summary() == {"add": 2, "change": 2, "destroy": 2, "unchanged": 0}


def test_plan_is_deterministic_whatever_the_live_order() -> None:
    desired = {f"r{i}": shop(host=f"h{i % 3}.acme.org") for i in range(12)}
    live = [live_route(f"r{i}", SHOP) for i in range(0, 20, 2)]
    first = plan_for(desired, live, prune=True).to_dict()
    random.Random(4).shuffle(live)
    assert plan_for(desired, live, prune=True).to_dict() == first


def test_options_and_passed_through_diagnostics_reach_the_plan() -> None:
    lint = Diagnostic("L100", "warning", "two routes on one host", file="routes/a.yaml", line=1)
    plan = plan_for(
        {"a": SHOP, "b": SHOP},
        [],
        targets=("b",),
        source_paths=("routes",),
        source_digest="sha256:" + "0" * 64,
        git={"commit": None, "dirty": True},
        diagnostics=(lint,),
    )
    out = plan.to_dict()
    assert out["diagnostics"][0] == lint.to_dict()
    # desired_count is the whole described set: a --target selection never trips the
    # empty-set guard while routes are described.
    assert out["options"] == {"prune": False, "targets": ["b"], "desired_count": 2}
    assert out["source"] == {
        "paths": ["routes"],
        "digest": "sha256:" + "0" * 64,
        "git": {"commit": None, "dirty": True},
        "changed_since": None,
    }
    assert plan.changes[0].annotations["routes/source-commit"] == ""


def test_is_owned_follows_labels_or_scope() -> None:
    labelled, bare = live_route("shop-a", SHOP), live_route("shop-a", SHOP, labels={})
    assert is_owned(labelled, OPTIONS) and not is_owned(bare, OPTIONS)
    scoped = replace(OPTIONS, labels_supported=False, scope=("shop-*",))
    assert is_owned(bare, scoped) and not is_owned(live_route("blog", SHOP), scoped)
    assert not is_owned(bare, replace(OPTIONS, labels_supported=False))  # no scope owns nothing


# --- properties -------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f"])
RULES = st.lists(
    st.tuples(
        st.sampled_from(["/a", "/b", "/b/", "/c"]),
        st.sampled_from(["s1", "s2"]),
        st.booleans(),
        st.sampled_from([None, "n1"]),
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def descriptors(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "host": draw(st.sampled_from(["shop.acme.org", "Shop.Acme.org.", "api.acme.org"])),
        "routes": [
            {
                "prefix": p,
                "route": {"service": s},
                "enableWebsockets": ws,
                **({"name": n} if n else {}),
            }
            for p, s, ws, n in draw(RULES)
        ],
    }
    origins = draw(st.lists(st.sampled_from(["https://A.org", "https://a.org/", "*"]), max_size=2))
    if origins or draw(st.booleans()):
        raw["corsPolicy"] = {
            "allowOrigins": origins,
            "allowMethods": draw(st.lists(st.sampled_from(["get", "POST"]), max_size=2)),
        }
    if draw(st.booleans()):
        raw["tls"] = {
            "clientValidationCa": {"name": draw(st.sampled_from(["ca1", "ca2"]))},
            "serverCertificate": {"name": draw(st.sampled_from(["", "cert"]))},
        }
    if draw(st.booleans()):
        raw["validation"] = {
            "clientCertificate": {
                "subjectMatches": draw(
                    st.lists(st.sampled_from([{"exact": "x"}, {"hasSuffix": ".org"}]), max_size=2)
                )
            },
            "httpBasic": {
                "realm": draw(st.sampled_from(["", "r"])),
                "passwordHashes": draw(
                    st.dictionaries(
                        st.sampled_from(["admin", "ops"]),
                        st.sampled_from(["sha256:AAA", "sha256:BBB"]),
                        max_size=2,
                    )
                ),
            },
        }
    return raw


def apply_naively(
    plan: Plan, desired: RouteSet, state: dict[str, LiveRoute]
) -> dict[str, LiveRoute]:
    """The simplest possible applier: write the desired spec, or drop the route."""
    out = dict(state)
    for change in plan.changes:
        if change.action == "delete":
            del out[change.route]
            continue
        version = str(int(out[change.route].version) + 1) if change.route in out else "1"
        out[change.route] = LiveRoute(
            change.route,
            desired[change.route].spec,
            version,
            labels=dict(change.labels),
            annotations=dict(change.annotations),
        )
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(NAMES, descriptors(), max_size=5),
    st.dictionaries(NAMES, descriptors(), max_size=5),
)
def test_applying_a_plan_leaves_nothing_to_do(
    desired_raw: dict[str, dict[str, Any]], live_raw: dict[str, dict[str, Any]]
) -> None:
    desired = desired_set(desired_raw)
    state = {name: live_route(name, raw) for name, raw in live_raw.items()}
    plan = make_plan(desired, state.values(), replace(OPTIONS, prune=True))
    assert plan_schema_errors(plan.to_dict()) == []
    state = apply_naively(plan, desired, state)
    again = make_plan(desired, state.values(), replace(OPTIONS, prune=True))
    assert again.changes == () and again.unchanged == len(desired)
    assert sorted(state) == sorted(desired)


def apply_operations(spec: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """Replay an update's operations on its redacted ``before`` spec."""
    out = copy.deepcopy(spec)
    rules = {rule["prefix"]: rule for rule in out["routes"]}
    for op in change["operations"]:
        kind = op["op"]
        if kind == "set-host":
            out["host"] = op["after"]
        elif kind == "add-path":
            # add-path names prefix and service; the rule's options live in ``after``.
            (rule,) = (r for r in change["after"]["routes"] if r["prefix"] == op["prefix"])
            assert rule["route"]["service"] == op["service"]
            rules[op["prefix"]] = rule
        elif kind == "remove-path":
            del rules[op["prefix"]]
        elif kind == "set-path-service":
            rules[op["prefix"]]["route"]["service"] = op["after"]
        elif kind == "set-path-options":
            service = rules[op["prefix"]]["route"]
            rules[op["prefix"]] = {"prefix": op["prefix"], "route": service, **op["after"]}
        else:
            key = {"set-cors": "corsPolicy", "set-tls": "tls", "set-validation": "validation"}[kind]
            out.pop(key, None)
            if op["after"] is not None:
                out[key] = op["after"]
    out["routes"] = [rules[prefix] for prefix in sorted(rules)]
    return out


@settings(max_examples=200, deadline=None)
@given(descriptors(), descriptors())
def test_operations_turn_before_into_after(
    before_raw: dict[str, Any], after_raw: dict[str, Any]
) -> None:
    before, after = RouteSpec.from_dict(before_raw), RouteSpec.from_dict(after_raw)
    ops = compute_operations(before, after)
    assert bool(ops) == (before != after)
    if before.to_dict(redact=True) == after.to_dict(redact=True) and before != after:
        # Only a secret changed: the operation must still say which one.
        assert any(op.changed for op in ops)
    change = {"after": after.to_dict(redact=True), "operations": [op.to_dict() for op in ops]}
    assert apply_operations(before.to_dict(redact=True), change) == after.to_dict(redact=True)
