"""Every renderer against the golden files of one fixed plan that holds every operation,
risk and section. After an intended rendering change, regenerate them with

    UPDATE_GOLDEN=1 python -m pytest tests/render -p no:cacheprovider
"""

from __future__ import annotations

import json
import os

import pytest

from reconciler.render.text import render_plan_text
from tests.render.plan_fixture import GOLDEN, HASH_A, HASH_B, HASH_OLD, PLAN, RENDERINGS


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
