"""Plan -> JSON: the plan file form, and the plan schema it must meet."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from reconciler.apply.saved_plan import plan_schema_errors
from reconciler.plan import Plan
from reconciler.quoting import json_text
from reconciler.render.json import drift_json_chunks, plan_json_chunks, render_plan_json
from reconciler.render.markdown import render_plan_markdown
from reconciler.render.text import render_plan_text
from tests.render.plan_fixture import HASH_A, PLAN, build_plan, many_changes, rules


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


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _leaves(item, (*path, key))] + [path]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _leaves(item, (*path, i))] + [path]
    return [path]


def test_the_compiled_validator_and_jsonschema_agree_on_every_mutation() -> None:
    """The fast validator decides alone whether a plan is valid: it must refuse exactly
    what ``jsonschema`` refuses, for every field of a real plan set to every JSON type."""
    import copy

    import jsonschema

    from reconciler.apply.saved_plan import _fast_plan_validator, _plan_validator

    fast, slow = _fast_plan_validator(), _plan_validator()
    original = PLAN.to_dict()
    checked = 0
    # Every field outside the changes, and every field of two changes (a create and an
    # update: every kind of spec and operation the schema knows is in them).
    paths = [p for p in _leaves(original) if p and (p[0] != "changes" or p[1:2] in ((0,), (1,)))]
    for path in paths:
        for replacement in (None, 7, "x", "(sensitive value)", [], {}):
            plan = copy.deepcopy(original)
            target = plan
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = replacement
            assert fast.is_valid(plan) == slow.is_valid(plan), (path, replacement)
            checked += 1
    assert checked > 500
    assert isinstance(slow, jsonschema.Draft202012Validator)


def _hostile_plan() -> Plan:
    # Names and hosts that JSON must escape, a GitHub runner command, and text that looks
    # like the stand-in the streamed renderer cuts at.
    desired = {
        name: {"host": f"h{i}.acme.org", "routes": rules(("/", "svc"))}
        for i, name in enumerate(["a-b", "zz", "x1"])
    }
    plan = build_plan(desired, {})
    odd = ["##[group]x", "\x00changes-00\x00", 'q"\\\n\u2028é😀', "::error::x"]
    changes = tuple(replace(c, route=name) for c, name in zip(plan.changes, odd, strict=False))
    return replace(plan, changes=changes + plan.changes[len(odd) :], source_paths=tuple(odd))


@pytest.mark.parametrize(
    "plan",
    [PLAN, replace(PLAN, changes=()), replace(PLAN, changes=PLAN.changes[:1]), _hostile_plan()],
    ids=["fixture", "no-changes", "one-change", "hostile"],
)
def test_the_streamed_json_is_the_whole_json_in_pieces(plan: Plan) -> None:
    chunks = list(plan_json_chunks(plan))
    assert "".join(chunks) == json_text(plan.to_dict()) + "\n" == render_plan_json(plan)
    # One change (one host of traffic) a piece: a plan of 50,000 is never one string.
    changes = len(plan.changes)
    assert len(chunks) == changes + len(plan.traffic) + 5
    for chunk, change in zip(chunks[1 : 1 + changes], plan.changes, strict=True):
        assert json.loads(chunk[1:]) == change.to_dict()
    for chunk, host in zip(chunks[3 + changes : -2], plan.traffic, strict=True):
        assert json.loads(chunk[1:]) == dict(host)


def test_a_big_plan_streams_change_by_change() -> None:
    plan = many_changes(300, 40)
    chunks = plan_json_chunks(plan)
    head = next(chunks)
    assert '"changes": ' in head and '"route": ' not in head
    assert "".join([head, *chunks]) == json_text(plan.to_dict()) + "\n"


def test_the_drift_report_streams_as_its_dict_renders() -> None:
    from reconciler.drift import DriftReport, Finding

    for plan in (PLAN, replace(PLAN, changes=()), _hostile_plan()):
        report = DriftReport((Finding("shop", "changed", "##[x]", ()),), plan)
        joined = "".join(drift_json_chunks(report))
        assert joined == json_text(report.to_dict()) + "\n"
