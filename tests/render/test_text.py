"""Plan -> Terraform-style text: the DESIGN example, ordering, colour, the apply report."""

from __future__ import annotations

from reconciler.planner import PlanOptions
from reconciler.render.markdown import render_plan_markdown
from reconciler.render.text import render_apply_text, render_plan_text
from reconciler.results import RESULTS, ApplyResult, RouteResult
from tests.render.plan_fixture import (
    APPLY,
    DESIGN_EXAMPLE,
    DESIRED,
    LIVE,
    OURS,
    OWNER,
    PLAN,
    build_plan,
    rules,
)


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


def test_text_has_diagnostics_unmanaged_and_risks_before_the_changes() -> None:
    text = render_plan_text(PLAN.to_dict())
    assert text.index("Unmanaged routes") < text.index("Risks:") < text.index("  # route")
    lines = text.splitlines()
    assert 'Warning: [L201] routes/api.yaml:9:5: CORS origin "*" allows any site' in lines
    assert any(line.startswith("Error: [P001] routes/taken.yaml:1:1: ") for line in lines)
    assert "  taken (host taken.acme.org, owner team/b)" in lines
    assert '  ! route "legacy" will be deleted (not-in-configuration)' in lines
    assert '  ! route "edge" no longer requires client certificates (mTLS removed)' in lines
    assert lines[-1] == (
        "Plan: 1 to add, 3 to change, 1 to destroy. 1 owned route is no longer described (kept)."
    )


def test_apply_report_says_complete_or_failed() -> None:
    ok = ApplyResult(
        (RouteResult("a", "create", "applied"), RouteResult("b", "update", "already-applied"))
    )
    assert render_apply_text(ok.to_dict()) == (
        '  route "a" (create): created\n'
        '  route "b" (update): already applied\n'
        "Apply complete: 1 applied, 1 already applied, 0 failed, 0 not attempted."
    )
    failed = render_apply_text(APPLY.to_dict()).splitlines()
    assert failed[-1] == "Apply failed: 1 applied, 1 already applied, 2 failed, 1 not attempted."
    assert '  route "vault" (update): failed after 5 attempts — backend answered 503' in failed


def test_hand_edited_saved_plan_still_renders() -> None:
    plan = PLAN.to_dict()
    edge = plan["changes"][1]
    edge["after"]["routes"] = []  # ops now name paths the spec no longer shows
    edge["operations"] = [op for op in edge["operations"] if op["op"] != "set-host"]
    edge["operations"].append({"op": "add-path", "prefix": "/new", "service": "svc"})
    text = render_plan_text(plan)
    assert '      + path "/new" -> svc' in text
    assert 'route "edge": host-changed' in text


def test_apply_report_lists_every_route_and_counts_deletes_as_deletes() -> None:
    result = ApplyResult(
        (
            RouteResult("a", "create", "applied"),
            RouteResult("b", "update", "applied"),
            RouteResult("c", "delete", "applied"),
            RouteResult("d", "update", "conflict", "changed since the plan"),
        )
    )
    lines = render_apply_text(result.to_dict()).splitlines()
    assert lines == [
        '  route "a" (create): created',
        '  route "b" (update): updated',
        '  route "c" (delete): deleted',
        '  route "d" (update): conflict — changed since the plan',
        "Apply failed: 2 applied, 0 already applied, 1 failed, 0 not attempted, 1 deleted.",
    ]
    as_json = result.to_dict()
    assert [r["result"] for r in as_json["results"]] == [
        "created",
        "updated",
        "deleted",
        "conflict",
    ]
    assert as_json["counts"] == {
        "created": 1,
        "updated": 1,
        "adopted": 0,
        "deleted": 1,
        "already-applied": 0,
        "conflict": 1,
        "failed": 0,
        "not-attempted": 0,
    }


def test_apply_totals_count_every_outcome_of_every_action() -> None:
    outcomes = ("applied", "already-applied", "conflict", "failed", "not-attempted")
    actions = ("create", "update", "adopt", "delete")
    result = ApplyResult(
        tuple(
            RouteResult(f"{action}-{outcome}-{n}", action, outcome)
            for n, (action, outcome) in enumerate(
                (a, o) for i, a in enumerate(actions) for o in outcomes for _ in range(i + 1)
            )
        )
    )
    results = [r.result for r in result.results]
    assert result.counts() == {name: results.count(name) for name in RESULTS}
    assert result.counts()["adopted"] == 3 and result.counts()["conflict"] == 10
    assert result.summary() == {
        "applied": 10,
        "already-applied": 10,
        "failed": 20,
        "not-attempted": 10,
    }
    assert result.to_dict()["summary"] == result.summary()
    assert result.to_dict()["counts"] == result.counts()
