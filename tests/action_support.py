"""Running the steps of action.yml for real, and reading their log as the runner does.

GitHub cannot be run here: a step's bash runs as GitHub runs `shell: bash` steps, with the
real `routes` CLI on PATH, against a copy of examples/shop; its stdout is read for workflow
commands with the runner's rules (``::name props::message`` at a line's start, nothing
between ``::stop-commands::TOKEN`` and ``::TOKEN::``).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
_COMMAND = re.compile(r"^\s*::([A-Za-z][\w-]*)(?: ([^:]*))?::(.*)$")
_OLD_COMMAND = re.compile(r"##\[([A-Za-z][\w-]*)[^\]]*\](.*)")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def step_script(action: dict[str, Any], step_id: str) -> str:
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == step_id]
    assert "${{" not in step["run"], "the script must read inputs from its environment"
    return str(step["run"])


@dataclass(frozen=True)
class StepRun:
    rc: int
    outputs: dict[str, str]
    log: str  # stdout and stderr, as they reach the job's log

    @property
    def stdout(self) -> str:
        return self.log

    @property
    def stderr(self) -> str:
        return self.log

    def commands(self) -> list[tuple[str, str]]:
        """(command, message) for every line the runner would act on."""
        return runner_commands(self.stdout)


def runner_commands(log: str) -> list[tuple[str, str]]:
    """The workflow commands GitHub's runner reads in ``log``, honouring stop-commands."""
    found: list[tuple[str, str]] = []
    stopped: str | None = None
    for line in log.splitlines():
        if stopped is not None:
            if line.strip() == f"::{stopped}::":
                stopped = None
            continue
        match = _COMMAND.match(line)
        old = _OLD_COMMAND.search(line)
        if match and match[1] == "stop-commands":
            stopped = match[3]
        elif match:
            found.append((match[1], match[3]))
        elif old:
            found.append((old[1], old[2]))
    return found


def run_step(
    script: str,
    repo: Path,
    command: str,
    *,
    env: dict[str, str] | None = None,
    **inputs: str,
) -> StepRun:
    """Run one step's ``script`` in ``repo`` with the action's inputs as its environment."""
    bin_dir = repo.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "routes"
    if not shim.exists():
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reconciler "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    output = repo.parent / f"output-{command}.txt"
    output.write_text("")
    step_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(repo.parent),
        "RUNNER_TEMP": str(repo.parent),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(repo.parent / "summary.md"),
        "GITHUB_EVENT_NAME": "push",
        "ROUTES_INPUT_COMMAND": command,
        "ROUTES_INPUT_PATHS": inputs.get("paths", ""),
        "ROUTES_INPUT_BACKEND": inputs.get("backend", "local"),
        "ROUTES_INPUT_ARGS": inputs.get("args", ""),
        "ROUTES_INPUT_COMMENT": inputs.get("comment", "true"),
        "ROUTES_CONFIG_UNTRUSTED": "1",  # as the step's env sets it
        "NO_COLOR": "1",
        **(env or {}),
    }
    script_file = repo.parent / "step.sh"
    script_file.write_text(script)
    done = subprocess.run(  # exactly how GitHub runs `shell: bash` steps
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
        cwd=repo,
        env=step_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    values = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return StepRun(done.returncode, values, done.stdout)
