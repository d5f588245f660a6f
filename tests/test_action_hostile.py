"""The Action against hostile pull requests: each attack of issue 14, run through the real
steps of action.yml (tests/action_support.py) and, for comments, the fake GitHub."""

from __future__ import annotations

import json
import shutil
import stat
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.action_support import ACTION, ROOT, StepRun, load, run_step, step_script
from tests.integrations.github.support import BOT, REPO, TOKEN, FakeGitHub, fake

__all__ = ["fake"]  # the fake GitHub's fixture, re-exported for pytest

HARDENING = "security-hardening-for-github-actions"


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    return load(ACTION)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    shutil.copytree(ROOT / "examples" / "shop", repo, ignore=shutil.ignore_patterns(".routes"))
    return repo


@pytest.fixture
def listener() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server on 127.0.0.1 that records the headers of every request it gets."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"routes": []}')

        do_PUT = do_POST = do_DELETE = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _config(repo: Path, extra: str) -> None:
    config = repo / ".routes.yaml"
    config.write_text(config.read_text() + extra)


def _error(run: StepRun) -> str:
    return " ".join(message for name, message in run.commands() if name == "error")


# ----------------------------------------------------------- the PR chooses the backend


def test_a_pr_config_naming_a_backend_never_receives_the_token(
    action: dict[str, Any], shop: Path, listener: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = listener
    _config(shop, f"backend: {url}\n")
    secret = {"ROUTES_TOKEN": "backend-secret-token"}
    script = step_script(action, "routes")

    empty = run_step(script, shop, "plan", backend="", env=secret)
    assert empty.rc == 64 and "backend input is required" in _error(empty)

    other = run_step(script, shop, "plan", backend="local", env=secret)
    assert other.rc == 1 and "in the GitHub Action the backend comes from" in other.stderr
    assert seen == [], "the PR's backend was contacted"


def test_a_pr_config_cannot_run_a_program(action: dict[str, Any], shop: Path) -> None:
    ran = shop.parent / "ran"
    program = shop / "tools" / "akka"
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\nenv > "{ran}"\necho "[]"\n')
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    _config(shop, "akka: {executable: ./tools/akka, project: shop}\n")

    run = run_step(step_script(action, "routes"), shop, "plan", backend="akka:")
    assert run.rc == 1 and "`akka.executable` names a program to run" in run.stderr
    assert not ran.exists()


def test_only_the_comment_step_sees_the_github_token(action: dict[str, Any]) -> None:
    with_token = [
        s.get("id") for s in action["runs"]["steps"] if "GITHUB_TOKEN" in s.get("env", {})
    ]
    assert with_token == ["comment"]
    comment = next(s for s in action["runs"]["steps"] if s.get("id") == "comment")
    assert "routes github comment" in comment["run"] and "routes plan" not in comment["run"]


def test_pull_request_target_is_refused_with_the_hardening_guide(
    action: dict[str, Any], shop: Path
) -> None:
    run = run_step(
        step_script(action, "routes"),
        shop,
        "plan",
        env={"GITHUB_EVENT_NAME": "pull_request_target"},
    )
    assert run.rc == 64 and "refuses pull_request_target" in _error(run)
    assert HARDENING in _error(run)
    assert HARDENING in (ROOT / "README.md").read_text()


# -------------------------------------------------------------- workflow-command injection


def test_nothing_routes_prints_becomes_a_workflow_command(
    action: dict[str, Any], shop: Path
) -> None:
    bin_dir = shop.parent / "bin"
    bin_dir.mkdir()
    forged = "::error file=routes/shop.yaml,line=1::Approved by security team"
    (bin_dir / "routes").write_text(  # routes, printing what a hostile value might hold
        f"#!/bin/sh\necho '{forged}' >&2\necho '::add-mask::ghs_' >&2\necho '##[error]x' >&2\n"
        f'exec "{sys.executable}" -m reconciler "$@"\n'
    )
    (bin_dir / "routes").chmod(0o755)
    for command in ("plan", "apply", "drift"):
        run = run_step(step_script(action, "routes"), shop, command)
        assert run.rc == 0, run.stderr
        assert forged in run.stdout  # it was printed ...
        assert run.commands() == []  # ... and the runner acted on none of it


# ---------------------------------------------------------------- multi-line inputs


def test_four_paths_on_four_lines_with_prune_delete_nothing(
    action: dict[str, Any], shop: Path
) -> None:
    script = step_script(action, "routes")
    assert run_step(script, shop, "apply").outputs["add"] == "4"
    paths = "routes/shop.yaml\nroutes/admin.yaml\n  routes/live.yaml\nroutes/partners.yaml\n"
    run = run_step(script, shop, "plan", paths=paths, args="--prune\n")
    assert run.rc == 0, run.stderr
    assert run.outputs["destroy"] == "0" and run.outputs["has-changes"] == "false"
    run = run_step(
        script, shop, "plan", paths="routes/shop.yaml\nroutes/admin.yaml", args="--target\nshop"
    )
    assert run.rc == 0 and run.outputs["has-changes"] == "false"


# ------------------------------------------------------------ comments, read-only tokens


def _pr_env(fake: FakeGitHub, tmp_path: Path) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "opened", "pull_request": {"number": 7}}))
    return {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": fake.base_url,
    }


def _plan_then_comment(
    action: dict[str, Any], shop: Path, fake: FakeGitHub
) -> tuple[StepRun, StepRun]:
    env = _pr_env(fake, shop.parent)
    planned = run_step(step_script(action, "routes"), shop, "plan", env=env)
    assert planned.rc == 0, planned.stderr
    commented = run_step(
        step_script(action, "comment"),
        shop,
        "plan",
        env={
            **env,
            "GITHUB_TOKEN": TOKEN,
            "ROUTES_GITHUB_AUTHOR": BOT,
            "ROUTES_PLAN_FILE": planned.outputs["plan-file"],
            "ROUTES_REPORT_FILE": "",
        },
    )
    return planned, commented


def test_the_comment_step_comments_as_the_bot(
    action: dict[str, Any], shop: Path, fake: FakeGitHub
) -> None:
    _, commented = _plan_then_comment(action, shop, fake)
    assert commented.rc == 0 and commented.commands() == []
    (comment,) = fake.comments[7]
    assert comment["user"]["login"] == BOT and "4 to add" in comment["body"]
    assert f"Plan comment: {comment['html_url']}" in commented.stdout


def test_a_read_only_token_still_writes_outputs_and_summary_and_warns(
    action: dict[str, Any], shop: Path, fake: FakeGitHub
) -> None:
    fake.read_only = True
    planned, commented = _plan_then_comment(action, shop, fake)
    assert planned.outputs["has-changes"] == "true" and planned.outputs["add"] == "4"
    assert "4 to add" in (shop.parent / "summary.md").read_text()
    assert commented.rc == 0, commented.stderr  # the plan's result decides, not the comment
    ((name, message),) = commented.commands()
    assert name == "warning" and "read-only" in message
    assert fake.comments == {}


def test_the_examples_plan_with_a_read_only_token_and_apply_in_the_environment() -> None:
    def routes_step(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        (job,) = load(ROOT / "examples" / "github" / name)["jobs"].values()
        return job, next(s for s in job["steps"] if s.get("uses") == "./")

    for name in ("plan.yml", "drift.yml"):
        job, step = routes_step(name)
        assert step["env"] == {"ROUTES_TOKEN": "${{ secrets.ROUTES_READ_TOKEN }}"}, name
        assert "environment" not in job and step["with"]["backend"]
    job, step = routes_step("apply.yml")
    assert job["environment"] == "production"
    assert step["env"] == {"ROUTES_TOKEN": "${{ secrets.ROUTES_TOKEN }}"}
