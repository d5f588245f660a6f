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


def test_a_read_only_token_writes_the_outputs_warns_and_succeeds(
    fake: FakeGitHub, env: dict[str, str], tmp_path: Path
) -> None:
    fake.read_only = True
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_plan(_create("shop"))))
    result = CliRunner().invoke(github_group, ["comment", str(plan_file)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "the token may not write" in result.stderr
    assert "add=1" in Path(env["GITHUB_OUTPUT"]).read_text()
    assert "1 to add" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def _drift_report(tmp_path: Path, drifted: bool) -> Path:
    plan = _plan(_create("shop")) if drifted else _plan()
    findings = [{"route": "shop", "kind": "not-yet-applied", "detail": "new"}] if drifted else []
    report = tmp_path / "drift.json"
    report.write_text(json.dumps({"drifted": drifted, "findings": findings, "plan": plan}))
    return report


def test_github_drift_shows_a_saved_report_and_the_issue_follows_it(
    fake: FakeGitHub, env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    offline = {k: v for k, v in env.items() if k != "GITHUB_TOKEN"}
    result = runner.invoke(github_group, ["drift", str(_drift_report(tmp_path, True))], env=offline)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("### Drift detected")
    assert "has-changes=true" in Path(env["GITHUB_OUTPUT"]).read_text()
    assert "Drift detected" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()

    result = runner.invoke(github_group, ["drift-issue", str(tmp_path / "drift.json")], env=env)
    (issue,) = fake.issues
    assert result.exit_code == 0 and result.stdout.strip() == issue["html_url"]
    assert issue["body"].startswith("<!-- routes-drift: local:.routes/state.db -->\n### Drift")

    clean = _drift_report(tmp_path, False)
    assert runner.invoke(github_group, ["drift-issue", str(clean)], env=env).exit_code == 0
    assert issue["state"] == "closed"


def test_a_broken_drift_report_is_a_plan_error(env: dict[str, str], tmp_path: Path) -> None:
    for text in ("{not json", json.dumps({"findings": [{"kind": "bogus"}], "plan": _plan()})):
        (tmp_path / "drift.json").write_text(text)
        result = CliRunner().invoke(github_group, ["drift", str(tmp_path / "drift.json")], env=env)
        assert isinstance(result.exception, PlanError)
        assert "drift report" in str(result.exception)
