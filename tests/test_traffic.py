"""Traffic impact: which requests a change sends somewhere else (reconciler/traffic.py).

Scenario tables in the pip-tools way: before, after, and the moves a reviewer must see.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.apply.saved_plan import plan_schema_errors
from reconciler.model import DesiredRoute, LiveRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.planner import PlanOptions, make_plan
from reconciler.render.markdown import render_plan_markdown
from reconciler.render.text import render_plan_text
from reconciler.traffic import _longer, traffic_impact

HOST = "ecommerce.acme.org"
OURS = {"managed-by": "routes", "routes/owner": "acme/shop"}


def spec(*rules: tuple[str, str], host: str = HOST) -> RouteSpec:
    return RouteSpec.from_dict(
        {"host": host, "routes": [{"prefix": p, "route": {"service": s}} for p, s in rules]}
    )


def moves(before: dict[str, RouteSpec], after: dict[str, RouteSpec]) -> list[tuple[Any, ...]]:
    """(kind, prefix, before service, after service, risk, except) of every move."""
    found = traffic_impact(before, after, before.keys() | after.keys())
    return [
        (
            m.kind,
            m.prefix,
            m.before.service if m.before else 404,
            m.after.service if m.after else 404,
            m.risk,
            m.excluding,
        )
        for host in found
        for m in host.moves
    ]


STORE = ("/", "storefront")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(
            {"shop": spec(STORE, ("/carts", "cart"))},
            {"shop": spec(STORE)},
            [("removed", "/carts", "cart", "storefront", True, ())],
            id="removal-falls-through-to-another-service",
        ),
        pytest.param(
            {"shop": spec(("/carts", "cart"))},
            {"shop": spec(("/other", "x"))},
            [
                ("removed", "/carts", "cart", 404, False, ()),
                ("added", "/other", 404, "x", False, ()),
            ],
            id="removal-to-404-and-new-prefix",
        ),
        pytest.param(
            {"shop": spec(("/", "storefront"), ("/carts", "storefront"))},
            {"shop": spec(STORE)},
            [],
            id="removal-falling-through-to-the-same-service-moves-nothing",
        ),
        pytest.param(
            {"shop": spec(STORE, ("/carts", "cart"), ("/carts/v2", "cart-v2"))},
            {"shop": spec(STORE, ("/carts", "carts-next"), ("/carts/v2", "cart-v2"))},
            [("retargeted", "/carts", "cart", "carts-next", False, ("/carts/v2",))],
            id="retarget-keeps-the-longer-prefix-out",
        ),
        pytest.param(
            {"shop": spec(("/api", "api"))},
            {"shop": spec(("/api", "api"), ("/api/v2", "api-v2"))},
            [("captured", "/api/v2", "api", "api-v2", False, ())],
            id="new-prefix-captures-from-a-shorter-one",
        ),
        pytest.param(
            {"shop": spec(STORE), "carts": spec(("/carts", "cart"))},
            {"shop": spec(STORE)},
            [("removed", "/carts", "cart", "storefront", True, ())],
            id="deleted-route-falls-through-to-another-route",
        ),
        pytest.param(
            {"shop": spec(STORE, ("/carts", "cart"))},
            {"shop": spec(STORE), "carts": spec(("/carts", "cart"))},
            [],
            id="prefix-moved-to-another-route-same-service",
        ),
        pytest.param(
            {"shop": spec(STORE)},
            {"shop": spec(STORE, host="shop.acme.org")},
            [
                ("removed", "/", "storefront", 404, False, ()),
                ("added", "/", 404, "storefront", False, ()),
            ],
            id="host-change-empties-the-old-host",
        ),
    ],
)
def test_moves(
    before: dict[str, RouteSpec], after: dict[str, RouteSpec], expected: list[tuple[Any, ...]]
) -> None:
    assert moves(before, after) == expected


def test_only_the_hosts_of_changed_routes_are_looked_at() -> None:
    before = {"a": spec(STORE), "b": spec(("/", "x"), host="b.acme.org")}
    after = {"a": spec(("/", "web")), "b": spec(("/", "y"), host="b.acme.org")}
    found = traffic_impact(before, after, ["a"])
    assert [h.host for h in found] == [HOST]


def _plan(live: dict[str, RouteSpec], desired: dict[str, RouteSpec]) -> Any:
    routes = RouteSet(
        {n: DesiredRoute(n, s, SourceLocation(f"routes/{n}.yaml")) for n, s in desired.items()}
    )
    current = [LiveRoute(n, s, "1", labels=OURS) for n, s in live.items()]
    return make_plan(routes, current, PlanOptions("acme/shop", "local", "0", prune=True))


def test_a_plan_shows_the_fall_through_as_a_risk_in_every_format() -> None:
    plan = _plan(
        {"shop": spec(STORE, ("/carts", "shopping-cart"))}, {"shop": spec(STORE)}
    ).to_dict()
    assert plan_schema_errors(plan) == []
    assert plan["traffic"][0]["moves"] == [
        {
            "kind": "removed",
            "prefix": "/carts",
            "except": [],
            "before": {"route": "shop", "prefix": "/carts", "service": "shopping-cart"},
            "after": {"route": "shop", "prefix": "/", "service": "storefront"},
            "risk": True,
        }
    ]
    text = render_plan_text(plan)
    note = (
        '  ! requests under "ecommerce.acme.org/carts" fall through to "/" and reach '
        "storefront instead of shopping-cart"
    )
    assert note in text.splitlines()
    assert (
        '    - "/carts": shopping-cart => storefront via "/" (prefix removed, falls through)'
        in text.splitlines()
    )
    markdown = render_plan_markdown(plan)
    assert "### Traffic" in markdown
    assert "- `ecommerce.acme.org`: `/carts`: shopping-cart => storefront via `/`" in markdown
    assert "```mermaid\nflowchart LR" in markdown
    assert 'p4 -.->|"removed"| s5\n  linkStyle 3 stroke:#cf222e' in markdown


def test_a_new_host_of_one_route_has_the_traffic_of_the_full_comparison() -> None:
    # The planner skips the comparison there (every prefix is new): it must agree with it.
    live = {"old": spec(STORE)}
    desired = {
        **live,
        "new": spec(("/b", "y"), ("/", "x"), ("/a/b", "z"), ("/a", "w"), host="n.acme.org"),
        "pair-1": spec(("/", "p"), host="pair.acme.org"),
        "pair-2": spec(("/q", "q"), host="pair.acme.org"),
    }
    plan = _plan(live, desired)
    expected = traffic_impact(live, desired, ["new", "pair-1", "pair-2"])
    assert [dict(host) for host in plan.traffic] == [host.to_dict() for host in expected]
    assert plan.traffic[0]["moves"][0]["except"] == ["/a", "/b"]
    assert plan.to_dict()["traffic"] == [host.to_dict() for host in expected]
    # What the text and Markdown renderers read is the plan file's structure.
    assert plan.to_view() == plan.to_dict()


def test_an_unchanged_plan_has_no_traffic() -> None:
    plan = _plan({"shop": spec(STORE)}, {"shop": spec(STORE)}).to_dict()
    assert plan["traffic"] == []
    assert "Traffic" not in render_plan_text(plan)


@given(st.sets(st.text(alphabet="/ab", min_size=1, max_size=5), max_size=12))
def test_the_longer_prefixes_of_a_move_are_the_nearest_ones_under_it(found: set[str]) -> None:
    # Each move lists, as its exceptions, the prefixes under it with nothing between.
    prefixes = sorted(found)
    for prefix in prefixes:
        under = [p for p in prefixes if p != prefix and p.startswith(prefix)]
        nearest = tuple(p for p in under if not any(q != p and p.startswith(q) for q in under))
        assert _longer(prefix, prefixes) == nearest
