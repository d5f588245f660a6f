"""``routes github comment|outputs PLAN_FILE`` against the fake GitHub
(tests/integrations/github/support.py)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import github_group
from reconciler.errors import PlanError
from tests.integrations.github.support import FakeGitHub, _create, _plan, env, fake

__all__ = ["env", "fake"]  # fixtures of the fake GitHub, re-exported for pytest


# --------------------------------------------------------------------------------- CLI


def test_github_comment_command_upserts_and_writes_outputs(
    fake: FakeGitHub, env: dict[str, str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_plan(_create("shop"))))
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(github_group, ["comment", str(plan_file)], env=env)
        assert result.exit_code == 0, result.output
    (comment,) = fake.comments[7]
    assert result.output.strip() == comment["html_url"]
    assert comment["body"].startswith("<!-- routes-plan: local:.routes/state.db -->")
    assert "shop" in comment["body"]
    assert "has-changes=true" in Path(env["GITHUB_OUTPUT"]).read_text()

    result = runner.invoke(
        github_group, ["comment", str(plan_file), "--target", "prod", "--pr", "9"], env=env
    )
    assert result.exit_code == 0 and "<!-- routes-plan: prod -->" in fake.comments[9][0]["body"]


def test_github_outputs_command_needs_no_token(env: dict[str, str], tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_plan()))
    offline = {k: v for k, v in env.items() if k not in ("GITHUB_TOKEN", "GITHUB_REPOSITORY")}
    result = CliRunner().invoke(github_group, ["outputs", str(plan_file)], env=offline)
    assert result.exit_code == 0, result.output
    assert "has-changes=false" in Path(env["GITHUB_OUTPUT"]).read_text()


def test_a_broken_plan_file_is_a_plan_error(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(github_group, ["comment", str(bad)], env=env)
    assert isinstance(result.exception, PlanError)
    assert "is not a plan file" in str(result.exception)

    half = tmp_path / "half.json"
    half.write_text(json.dumps({"summary": {}, "changes": []}))
    result = CliRunner().invoke(github_group, ["comment", str(half)], env=env)
    assert isinstance(result.exception, PlanError)
    assert "is not a valid plan file" in str(result.exception)
