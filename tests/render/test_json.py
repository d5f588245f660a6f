"""Plan -> JSON: the plan file form, and the plan schema it must meet."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.apply.saved_plan import plan_schema_errors
from reconciler.plan import Plan
from reconciler.render.json import render_plan_json
from reconciler.render.markdown import render_plan_markdown
from reconciler.render.text import render_plan_text
from tests.render.plan_fixture import HASH_A, PLAN, build_plan, rules


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
