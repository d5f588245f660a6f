"""The one fixed plan every renderer test renders: every operation, risk and section."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.apply.saved_plan import plan_schema_errors
from reconciler.diagnostics import Diagnostic
from reconciler.model import DesiredRoute, LiveRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.plan import Plan
from reconciler.planner import PlanOptions, make_plan
from reconciler.render.json import render_plan_json
from reconciler.render.markdown import render_plan_markdown
from reconciler.render.text import render_apply_text, render_plan_text
from reconciler.results import ApplyResult, RouteResult

GOLDEN = Path(__file__).parents[1] / "golden"


OWNER = "acme/gitops"


OURS = {"managed-by": "routes", "routes/owner": OWNER}


HASH_A = "sha256:c2VjcmV0LWhhc2gtbnVtYmVyLW9uZQ=="


HASH_B = "sha256:YW5vdGhlci1zZWNyZXQtaGFzaA=="


HASH_OLD = "sha256:b2xkLXNlY3JldC1oYXNo"


def rules(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"prefix": prefix, "route": {"service": service}} for prefix, service in pairs]


def basic(digest: str) -> dict[str, Any]:
    return {"httpBasic": {"realm": "ops", "passwordHashes": {"admin": digest}}}


DESIRED: dict[str, dict[str, Any]] = {
    "api": {
        "host": "api.acme.org",
        "tls": {"serverCertificate": {"name": "api-cert"}},
        "validation": {
            "clientCertificate": {"subjectMatches": [{"hasSuffix": ".acme.org"}]},
            **basic(HASH_A),
        },
        "corsPolicy": {"allowOrigins": ["*"], "allowMethods": ["GET"]},
        "routes": [
            {
                "prefix": "/ws",
                "route": {"service": "chat"},
                "enableWebsockets": True,
                "name": "chat",
            }
        ],
    },
    "shop": {
        "host": "ecommerce.acme.org",
        "routes": rules(("/carts", "carts-v2"), ("/inventory", "inventory")),
    },
    "edge": {
        "host": "edge-new.acme.org",
        "corsPolicy": {"allowOrigins": ["https://www.acme.org"]},
        "routes": [{"prefix": "/", "route": {"service": "web"}, "enableWebsockets": True}],
    },
    "vault": {
        "host": "vault.acme.org",
        "validation": basic(HASH_B),
        "routes": rules(("/", "vault")),
    },
    "taken": {"host": "taken.acme.org", "routes": rules(("/", "web"))},
}


LIVE: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "shop": (
        {
            "host": "ecommerce.acme.org",
            "routes": rules(("/carts", "shopping-cart"), ("/product", "product-info")),
        },
        OURS,
    ),
    "edge": (
        {
            "host": "edge.acme.org",
            "tls": {"clientValidationCa": {"name": "root-ca"}},
            "validation": basic(HASH_OLD),
            "corsPolicy": {"allowOrigins": ["https://old.acme.org"], "allowMethods": ["GET"]},
            "routes": [{"prefix": "/", "route": {"service": "web"}, "name": "root"}],
        },
        OURS,
    ),
    "vault": (
        {"host": "vault.acme.org", "validation": basic(HASH_A), "routes": rules(("/", "vault"))},
        OURS,
    ),
    "legacy": (
        {"host": "old.acme.org", "validation": basic(HASH_OLD), "routes": rules(("/", "old"))},
        OURS,
    ),
    "prod-db": ({"host": "db.acme.org", "routes": rules(("/", "db"))}, OURS),
    "taken": (
        {"host": "taken.acme.org", "routes": rules(("/", "web"))},
        {"routes/owner": "team/b"},
    ),
    "bare": ({"host": "bare.acme.org", "routes": rules(("/", "bare"))}, {}),
}


LINT = Diagnostic(
    "L201", "warning", 'CORS origin "*" allows any site', file="routes/api.yaml", line=9, column=5
)


OPTIONS = PlanOptions(
    owner=OWNER,
    backend_url="local:.routes/state.db",
    tool_version="0.0.0-test",
    prune=True,
    protected=("prod-*",),
    source_paths=("routes",),
    source_digest="sha256:" + "ab" * 32,
    git={"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
    diagnostics=(LINT,),
)


def build_plan(
    desired: dict[str, dict[str, Any]] = DESIRED,
    live: dict[str, tuple[dict[str, Any], dict[str, str]]] = LIVE,
    options: PlanOptions = OPTIONS,
) -> Plan:
    routes = RouteSet(
        {
            name: DesiredRoute(
                name, RouteSpec.from_dict(raw), SourceLocation(f"routes/{name}.yaml")
            )
            for name, raw in desired.items()
        }
    )
    current = [
        LiveRoute(name, RouteSpec.from_dict(raw), version="3", labels=labels)
        for name, (raw, labels) in live.items()
    ]
    plan = make_plan(routes, current, options)
    checked = plan.to_dict()
    # jsonschema walks ~2 ms per change: for huge plans a spread-out sample proves the shape.
    checked["changes"] = checked["changes"][:: max(1, len(plan.changes) // 100)]
    assert plan_schema_errors(checked) == []
    return plan


PLAN = build_plan()


APPLY = ApplyResult(
    results=(
        RouteResult("api", "create", "applied", attempts=1, version="1"),
        RouteResult("shop", "update", "already-applied", attempts=1, version="4"),
        RouteResult("edge", "update", "conflict", "route changed since the plan was made", 1),
        RouteResult("vault", "update", "failed", "backend answered 503", attempts=5),
        RouteResult("legacy", "delete", "not-attempted"),
    ),
    journal=".routes/journal/2024-01-01T00-00-00.jsonl",
)


RENDERINGS: dict[str, Callable[[], str]] = {
    "plan.txt": lambda: render_plan_text(PLAN.to_dict()),
    "plan-color.txt": lambda: render_plan_text(PLAN.to_dict(), color=True),
    "plan.md": lambda: render_plan_markdown(PLAN.to_dict()),
    "plan.json": lambda: render_plan_json(PLAN),
    "apply.txt": lambda: render_apply_text(APPLY.to_dict()),
}


DESIGN_EXAMPLE = """\
  # route "shop" will be updated in-place
  ~ route "shop" {
        host = "ecommerce.acme.org"
      + path "/inventory" -> inventory
      - path "/product" -> product-info
      ~ path "/carts" -> shopping-cart => carts-v2
    }

Plan: 1 to add, 1 to change, 0 to destroy."""


def many_changes(total: int, deletes: int) -> Plan:
    hosts = [f"h{i}.acme.org" for i in range(total)]
    desired = {
        f"route-{i:04d}": {"host": hosts[i], "routes": rules(("/a", "svc"))}
        for i in range(total - deletes)
    }
    live = {
        f"route-{i:04d}": ({"host": hosts[i], "routes": rules(("/a", "old"), ("/b", "b"))}, OURS)
        for i in range(0, total - deletes, 2)
    }
    live |= {
        f"gone-{i:03d}": ({"host": "gone.acme.org", "routes": rules(("/", "x"))}, OURS)
        for i in range(deletes)
    }
    return build_plan(desired, live, PlanOptions(OWNER, "local", "0", prune=True))
