"""Plan renderers (DESIGN §6): text, Markdown and JSON, checked against golden files.

The golden files in tests/golden/ are the reviewed rendering of one fixed plan that holds
every operation, risk and section. After an intended rendering change, regenerate them with

    UPDATE_GOLDEN=1 python -m pytest tests/test_render.py -p no:cacheprovider

and review the diff before committing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.saved_plan import plan_schema_errors
from reconciler.diagnostics import Diagnostic
from reconciler.model import DesiredRoute, LiveRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.plan import ApplyResult, Plan, RouteResult
from reconciler.planner import PlanOptions, make_plan
from reconciler.render.json import render_plan_json
from reconciler.render.markdown import render_plan_markdown
from reconciler.render.text import render_apply_text, render_plan_text

GOLDEN = Path(__file__).parent / "golden"
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


@pytest.mark.parametrize("name", RENDERINGS)
def test_rendering_matches_golden_file(name: str) -> None:
    rendered = RENDERINGS[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


def test_fixed_plan_covers_every_operation_and_risk() -> None:
    ops = {op.op for change in PLAN.changes for op in change.operations}
    risks = {risk for change in PLAN.changes for risk in change.risks}
    assert ops == {
        "set-host",
        "add-path",
        "remove-path",
        "set-path-service",
        "set-path-options",
        "set-cors",
        "set-tls",
        "set-validation",
    }
    assert risks == {
        "delete",
        "host-changed",
        "path-removed",
        "cors-wildcard",
        "mtls-removed",
        "basic-auth-removed",
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


def test_design_example_renders_exactly() -> None:
    desired = {"shop": DESIRED["shop"], "new": {"host": "n.acme.org", "routes": rules(("/", "n"))}}
    plan = build_plan(desired, {"shop": LIVE["shop"]}, PlanOptions(OWNER, "local", "0"))
    text = render_plan_text(plan.to_dict())
    assert text.endswith("\n\n" + DESIGN_EXAMPLE)
    assert text.startswith('Risks:\n  ! route "shop" stops serving path "/product"\n\n')
    assert '  # route "new" will be created\n  + route "new" {\n' in text


def test_no_changes_is_the_last_line_even_with_notes() -> None:
    live = {"shop": (DESIRED["shop"], OURS), "bare": LIVE["bare"]}
    plan = build_plan({"shop": DESIRED["shop"]}, live, PlanOptions(OWNER, "local", "0"))
    text = render_plan_text(plan.to_dict())
    assert "Unmanaged routes (not touched):\n  bare (host bare.acme.org)" in text
    assert text.splitlines()[-1] == "No changes. Live routes match the descriptors."
    assert render_plan_markdown(plan.to_dict()).startswith("**No changes.")


def test_a_saved_plan_renders_the_same_as_the_fresh_one() -> None:
    saved = json.loads(render_plan_json(PLAN))
    assert saved == PLAN.to_dict()
    assert render_plan_text(saved) == render_plan_text(PLAN.to_dict())
    assert render_plan_text(Plan.from_dict(saved).to_dict()) == render_plan_text(saved)
    assert render_plan_markdown(saved) == render_plan_markdown(PLAN.to_dict())


def test_json_is_indented_unicode_with_trailing_newline() -> None:
    plan = build_plan({"shop": {"host": "bücher.example", "routes": rules(("/", "b"))}}, {})
    rendered = render_plan_json(plan)
    assert rendered.endswith("}\n") and rendered.startswith('{\n  "format_version": "1",')
    assert '"host": "xn--bcher-kva.example"' in rendered  # canonical IDNA form


def test_colour_only_when_asked() -> None:
    plain, coloured = render_plan_text(PLAN.to_dict()), render_plan_text(PLAN.to_dict(), color=True)
    assert "\x1b[" not in plain
    for sign, code in (("+", "32"), ("~", "33"), ("-", "31")):
        assert f"\x1b[{code}m{sign}\x1b[0m" in coloured
    assert (
        coloured.replace("\x1b[32m", "")
        .replace("\x1b[33m", "")
        .replace("\x1b[31m", "")
        .replace("\x1b[0m", "")
        == plain
    )


def test_no_rendering_contains_a_password_hash() -> None:
    outputs = [render() for render in RENDERINGS.values()]
    outputs.append(json.dumps(PLAN.to_dict()))
    for output in outputs:
        for secret in (HASH_A, HASH_B, HASH_OLD, "c2VjcmV0", "YW5vdGhlci"):
            assert secret not in output
    text = render_plan_text(PLAN.to_dict())
    # The changed-but-redacted hash is still shown as a change.
    assert "~ validation.httpBasic.passwordHashes.admin = (sensitive value)" in text
    assert "+ validation.httpBasic.passwordHashes.admin = (sensitive value)" in text


def test_text_has_diagnostics_unmanaged_and_risks_before_the_changes() -> None:
    text = render_plan_text(PLAN.to_dict())
    assert text.index("Unmanaged routes") < text.index("Risks:") < text.index("  # route")
    lines = text.splitlines()
    assert 'Warning: [L201] routes/api.yaml:9:5: CORS origin "*" allows any site' in lines
    assert any(line.startswith("Error: [P001] routes/taken.yaml:1:1: ") for line in lines)
    assert "  taken (host taken.acme.org, owner team/b)" in lines
    assert '  ! route "legacy" will be deleted (not-in-configuration)' in lines
    assert '  ! route "edge" no longer requires client certificates (mTLS removed)' in lines
    assert lines[-1] == "Plan: 1 to add, 3 to change, 1 to destroy."


def test_markdown_starts_with_summary_then_risks_then_details() -> None:
    md = render_plan_markdown(PLAN.to_dict())
    first = md.splitlines()[0]
    assert first.startswith("**Plan:** 1 to add, 3 to change, 1 to destroy")
    assert "`local:.routes/state.db`" in first and f"`{OWNER}`" in first
    assert md.index("### Risks") < md.index("<details>")
    assert md.count("<details>") == md.count("</details>") == len(PLAN.changes)
    block = '```diff\n   # route "shop" will be updated in-place\n!    route "shop" {\n'
    assert block + '         host = "ecommerce.acme.org"\n+        path "/inventory"' in md
    assert render_plan_markdown(PLAN.to_dict()) == md


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


def test_markdown_stays_under_the_comment_limit_and_keeps_every_delete() -> None:
    plan = many_changes(3000, 50)
    assert len(plan.changes) == 3000 and plan.count("delete") == 50
    md = render_plan_markdown(plan.to_dict())
    assert len(md) < 65536
    assert md.splitlines()[0].startswith("**Plan:** 1475 to add, 1475 to change, 50 to destroy")
    for i in range(50):
        assert f'route "gone-{i:03d}" will be deleted' in md
        assert f"<code>- gone-{i:03d}</code>" in md
    shown = md.count("<details>") - 50
    assert 0 < shown < 2950
    assert f"… {2950 - shown} more changed routes not shown; run `routes show plan.json`" in md


def test_markdown_falls_back_to_one_line_per_delete_when_blocks_do_not_fit() -> None:
    plan = many_changes(60, 40)
    md = render_plan_markdown(plan.to_dict(), limit=6000)
    assert len(md) < 6000
    for i in range(40):
        assert f"`- gone-{i:03d}` will be destroyed" in md
    assert "more changed routes not shown" in md


def test_markdown_lists_deletes_by_name_when_even_one_line_each_is_too_long() -> None:
    plan = many_changes(1300, 1200)
    md = render_plan_markdown(plan.to_dict())
    assert len(md) < 65536
    assert md.splitlines()[0].startswith("**Plan:** 50 to add, 50 to change, 1200 to destroy")
    assert "- 1200 routes will be deleted (listed below)" in md
    for i in range(1200):
        assert f"`gone-{i:03d}`" in md


def test_apply_report_says_complete_or_failed() -> None:
    ok = ApplyResult(
        (RouteResult("a", "create", "applied"), RouteResult("b", "update", "already-applied"))
    )
    assert render_apply_text(ok.to_dict()) == (
        '  route "b" (update): already applied\n'
        "Apply complete: 1 applied, 1 already applied, 0 failed, 0 not attempted."
    )
    failed = render_apply_text(APPLY.to_dict()).splitlines()
    assert failed[-1] == "Apply failed: 1 applied, 1 already applied, 2 failed, 1 not attempted."
    assert '  route "vault" (update): failed after 5 attempts — backend answered 503' in failed


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (
            lambda d: d["changes"][0]["spec"]["validation"]["httpBasic"]["passwordHashes"].update(
                admin=HASH_A
            ),
            "sensitive value",
        ),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d["changes"][1]["operations"].append({"op": "rename"}), "changes/1/operations/"),
        (lambda d: d["summary"].pop("unchanged"), "unchanged"),
        (lambda d: d["changes"][0].update(action="upsert"), "upsert"),
    ],
)
def test_schema_catches_drift_and_secrets(
    mutate: Callable[[dict[str, Any]], Any], complaint: str
) -> None:
    plan = PLAN.to_dict()
    assert plan["changes"][0]["route"] == "api"
    mutate(plan)
    errors = plan_schema_errors(plan)
    assert errors and any(complaint in error for error in errors), errors


def test_hand_edited_saved_plan_still_renders() -> None:
    plan = PLAN.to_dict()
    edge = plan["changes"][1]
    edge["after"]["routes"] = []  # ops now name paths the spec no longer shows
    edge["operations"] = [op for op in edge["operations"] if op["op"] != "set-host"]
    edge["operations"].append({"op": "add-path", "prefix": "/new", "service": "svc"})
    text = render_plan_text(plan)
    assert '      + path "/new" -> svc' in text
    assert 'route "edge": host-changed' in text
