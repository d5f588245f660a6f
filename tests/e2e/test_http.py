"""Plan and apply through a real ``routes serve`` on loopback, with the http backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.apply.rederive import compare
from reconciler.backends.http.client import HttpBackend
from reconciler.model import DesiredRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.plan import Plan
from reconciler.planner import PlanOptions, make_plan
from tests.http_server import RunningServer, running_server

TOKEN = "e2e-token"
OWNER = "acme/gitops"


def desired(**services: str) -> RouteSet:
    """One route per name, each on its own host with ``/`` going to the given service."""
    return RouteSet(
        {
            name: DesiredRoute(
                name,
                RouteSpec.from_dict(
                    {
                        "host": f"{name}.acme.org",
                        "routes": [{"prefix": "/", "route": {"service": service}}],
                    }
                ),
                SourceLocation(f"routes/{name}.yaml"),
            )
            for name, service in services.items()
        }
    )


def plan_for(routes: RouteSet, backend: HttpBackend) -> Plan:
    options = PlanOptions(owner=OWNER, backend_url=backend.url, tool_version="test")
    return make_plan(routes, backend.list_routes(), options)


def specs_of(routes: RouteSet) -> dict[str, RouteSpec]:
    return {name: route.spec for name, route in routes.items()}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "state.db", token=TOKEN) as running:
        yield running


@pytest.fixture
def backend(server: RunningServer) -> Iterator[HttpBackend]:
    http = HttpBackend(server.url, token=TOKEN)
    yield http
    http.close()


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    """A person editing routes by hand through the API."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def test_apply_through_the_server_then_nothing_to_do(backend: HttpBackend, tmp_path: Path) -> None:
    routes = desired(shop="cart", blog="web", docs="web")
    plan = plan_for(routes, backend)
    assert plan.summary()["add"] == 3
    result = apply_plan(plan, backend, specs_of(routes), ApplyOptions(journal_dir=tmp_path / "j"))
    assert [r.outcome for r in result.results] == ["applied"] * 3
    live = {route.name: route for route in backend.list_routes()}
    assert set(live) == {"shop", "blog", "docs"}
    assert live["shop"].labels["routes/owner"] == OWNER
    assert all(route.ready for route in live.values())
    assert not plan_for(routes, backend).has_changes
    journal = "".join(p.read_text() for p in (tmp_path / "j").iterdir())
    assert TOKEN not in journal


def test_a_hand_edit_through_the_api_shows_up_in_a_new_plan(
    backend: HttpBackend, api: httpx.Client, tmp_path: Path
) -> None:
    routes = desired(shop="cart")
    apply_plan(plan_for(routes, backend), backend, specs_of(routes), ApplyOptions())
    live = api.get("/v1/routes/shop").json()
    live["spec"]["routes"][0]["route"]["service"] = "hand-edited"
    edited = api.put("/v1/routes/shop", json=live, headers={"If-Match": f'"{live["version"]}"'})
    assert edited.status_code == 200

    drift = plan_for(routes, backend)
    assert [(c.route, c.action) for c in drift.changes] == [("shop", "update")]
    assert [op.to_dict()["op"] for op in drift.changes[0].operations] == ["set-path-service"]
    result = apply_plan(drift, backend, specs_of(routes), ApplyOptions())
    assert result.ok
    assert backend.get_route("shop").spec == routes["shop"].spec  # type: ignore[union-attr]


def test_a_saved_plan_made_stale_by_a_hand_edit_writes_nothing(
    backend: HttpBackend, api: httpx.Client
) -> None:
    first = desired(shop="cart", blog="web")
    apply_plan(plan_for(first, backend), backend, specs_of(first), ApplyOptions())
    wanted = desired(shop="cart-v2", blog="web-v2")
    saved = Plan.from_dict(json.loads(json.dumps(plan_for(wanted, backend).to_dict())))
    assert saved.summary()["change"] == 2

    live = api.get("/v1/routes/blog").json()
    live["spec"]["routes"][0]["route"]["service"] = "someone-else"
    api.put("/v1/routes/blog", json=live, headers={"If-Match": f'"{live["version"]}"'})
    versions = {r["name"]: r["version"] for r in api.get("/v1/routes").json()["items"]}

    live_now = {route.name: route for route in backend.list_routes()}
    differences, _ = compare(saved, plan_for(wanted, backend), live_now, specs_of(wanted))
    assert [(d.route, d.stale) for d in differences] == [("blog", True)]
    assert differences[0].describe() == "route blog: it changed since the plan was made"
    after = {r["name"]: r["version"] for r in api.get("/v1/routes").json()["items"]}
    assert after == versions


def test_a_half_applied_plan_finishes_on_the_second_run(
    backend: HttpBackend, api: httpx.Client
) -> None:
    routes = desired(a="one", b="two", c="three")
    plan = plan_for(routes, backend)
    one = {"spec": routes["a"].spec.to_dict(), "labels": dict(plan.changes[0].labels)}
    api.put("/v1/routes/a", json=one)  # as if the first run stopped after route a
    live_now = {route.name: route for route in backend.list_routes()}
    differences, kept = compare(plan, plan_for(routes, backend), live_now, specs_of(routes))
    assert differences == [] and [c.route for c in kept] == ["a", "b", "c"]  # a: done already
    result = apply_plan(plan, backend, specs_of(routes), ApplyOptions())
    outcomes = {r.route: r.outcome for r in result.results}
    assert outcomes == {"a": "already-applied", "b": "applied", "c": "applied"}
    assert {r.name for r in backend.list_routes()} == {"a", "b", "c"}


def test_plan_warns_about_hosts_the_server_will_not_make_ready(tmp_path: Path) -> None:
    """In `--hostnames registered` mode, `routes plan` warns before the apply (P030)."""

    with running_server(tmp_path / "state.db") as server:
        server.store.set_hostname_mode("registered")
        server.store.add_hostname("shop.acme.org")
        backend = HttpBackend(server.url)
        try:
            assert backend.unregistered_hosts({"shop.acme.org", "api.acme.org"}) == {"api.acme.org"}
            server.store.set_hostname_mode("any")
            assert backend.unregistered_hosts({"api.acme.org"}) == set()
        finally:
            backend.close()
