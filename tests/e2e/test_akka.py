"""Planner + applier against the Akka CLI emulator: ownership by `scope`, plan / apply /
plan-again-empty, and drift after a hand edit with the CLI. Runs external processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.akka.backend import AkkaBackend, open_akka
from reconciler.model import DesiredRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.plan import Plan
from reconciler.planner import PlanOptions, make_plan
from tests.akka_emulator import PROJECT, Emulator, install

SCOPE = ("shop-*",)


def descriptor(host: str, *paths: tuple[str, str], **extra: Any) -> dict[str, Any]:
    rules = [{"prefix": prefix, "route": {"service": service}} for prefix, service in paths]
    return {"host": host, "routes": rules, **extra}


def desired(**routes: dict[str, Any]) -> RouteSet:
    return RouteSet(
        {
            name: DesiredRoute(
                name, RouteSpec.from_dict(raw), SourceLocation(f"routes/{name}.yaml")
            )
            for name, raw in routes.items()
        }
    )


def plan(backend: AkkaBackend, routes: RouteSet, prune: bool = True) -> Plan:
    options = PlanOptions(
        owner="acme/gitops",
        backend_url=backend.url,
        tool_version="test",
        prune=prune,
        scope=SCOPE,
        labels_supported=backend.capabilities.labels,
    )
    return make_plan(routes, backend.list_routes(), options)


def apply(backend: AkkaBackend, the_plan: Plan, routes: RouteSet, tmp_path: Path) -> None:
    specs = {name: route.spec for name, route in routes.items()}
    result = apply_plan(the_plan, backend, specs, ApplyOptions(journal_dir=tmp_path / "journal"))
    assert result.ok, [r.to_dict() for r in result.results]


@pytest.fixture
def emulator(tmp_path: Path) -> Emulator:
    return install(tmp_path)


@pytest.fixture
def backend(emulator: Emulator) -> AkkaBackend:
    opened = open_akka(f"akka:?project={PROJECT}")
    return AkkaBackend(opened.url, opened.target, env=emulator.env())


WANTED = desired(
    **{
        "shop-web": descriptor(
            "shop.example.com",
            ("/carts", "shopping-cart"),
            ("/products", "product-info"),
            corsPolicy={"allowOrigins": ["https://www.example.com"], "allowMethods": ["GET"]},
        ),
        "shop-api": descriptor("api.example.com", ("/v1", "api")),
    }
)


def test_plan_apply_then_plan_again_is_empty(
    emulator: Emulator, backend: AkkaBackend, tmp_path: Path
) -> None:
    emulator.seed({"legacy": descriptor("old.example.com", ("/", "monolith"))})
    first = plan(backend, WANTED)
    assert [(c.route, c.action) for c in first.changes] == [
        ("shop-api", "create"),
        ("shop-web", "create"),
    ]
    assert [u["route"] for u in first.unmanaged] == ["legacy"]
    apply(backend, first, WANTED, tmp_path)
    again = plan(backend, WANTED)
    assert again.changes == () and again.unchanged == 2
    # The unmanaged route outside the scope was never touched, even with prune.
    assert backend.get_route("legacy") is not None


def test_removed_path_and_cors_reach_the_platform_despite_the_merging_update(
    emulator: Emulator, backend: AkkaBackend, tmp_path: Path
) -> None:
    apply(backend, plan(backend, WANTED), WANTED, tmp_path)
    smaller = desired(
        **{
            "shop-web": descriptor(
                "shop.example.com", ("/carts", "carts-v2"), ("/inventory", "inventory")
            ),
            "shop-api": WANTED["shop-api"].spec.to_dict(),
        }
    )
    change = plan(backend, smaller)
    ops = {op.op for c in change.changes for op in c.operations}
    assert {"remove-path", "set-cors", "add-path", "set-path-service"} <= ops
    apply(backend, change, smaller, tmp_path)
    live = backend.get_route("shop-web")
    assert live is not None
    assert [rule.prefix for rule in live.spec.paths] == ["/carts", "/inventory"]
    assert live.spec.cors is None
    assert plan(backend, smaller).changes == ()


def test_drift_after_a_hand_edit_is_planned_back(
    emulator: Emulator, backend: AkkaBackend, tmp_path: Path
) -> None:
    apply(backend, plan(backend, WANTED), WANTED, tmp_path)
    edited = emulator.cli(
        "routes", "update", "shop-api", "--path", "/debug=debug-svc", "--disable-prompt"
    )
    assert edited.returncode == 0, edited.stderr
    drift = plan(backend, WANTED)
    assert [(c.route, c.action) for c in drift.changes] == [("shop-api", "update")]
    assert [(op.op, op.prefix) for op in drift.changes[0].operations] == [("remove-path", "/debug")]
    apply(backend, drift, WANTED, tmp_path)
    assert plan(backend, WANTED).changes == ()


def test_prune_deletes_only_routes_in_scope(
    emulator: Emulator, backend: AkkaBackend, tmp_path: Path
) -> None:
    emulator.seed(
        {
            "shop-old": descriptor("old-shop.example.com", ("/", "old")),
            "billing": descriptor("billing.example.com", ("/", "billing")),
        }
    )
    the_plan = plan(backend, WANTED)
    assert [(c.route, c.action) for c in the_plan.changes if c.action == "delete"] == [
        ("shop-old", "delete")
    ]
    apply(backend, the_plan, WANTED, tmp_path)
    assert sorted(r.name for r in backend.list_routes()) == ["billing", "shop-api", "shop-web"]


def test_a_saved_plan_applied_twice_writes_nothing_the_second_time(
    emulator: Emulator, backend: AkkaBackend, tmp_path: Path
) -> None:
    the_plan = plan(backend, WANTED)
    apply(backend, the_plan, WANTED, tmp_path)
    writes_before = [c for c in emulator.calls() if c[2] in ("create", "update", "delete")]
    specs = {name: route.spec for name, route in WANTED.items()}
    result = apply_plan(the_plan, backend, specs, ApplyOptions(journal_dir=tmp_path / "j2"))
    assert {r.outcome for r in result.results} == {"already-applied"}
    writes_after = [c for c in emulator.calls() if c[2] in ("create", "update", "delete")]
    assert writes_after == writes_before
