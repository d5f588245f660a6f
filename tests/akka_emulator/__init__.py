"""Put the Akka CLI emulator on PATH as `akka` and `kalix` for a test (see emulator.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EMULATOR = Path(__file__).with_name("emulator.py")
PROJECT = "shop-project"
OWNER = "acme"
REGION = "gcp-us-east1"


@dataclass(frozen=True)
class Emulator:
    bin_dir: Path
    state_path: Path
    log_path: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["AKKA_EMULATOR_STATE"] = str(self.state_path)
        env["AKKA_EMULATOR_LOG"] = str(self.log_path)
        env.update(extra)
        return env

    def cli(self, *args: str, prog: str = "akka", **extra: str) -> subprocess.CompletedProcess[str]:
        """Run the emulated CLI by hand, as a person editing the platform would."""
        return subprocess.run(
            [prog, *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_path.read_text(encoding="utf-8")))

    def save(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state), encoding="utf-8")

    def seed(self, routes: dict[str, dict[str, Any]]) -> None:
        """Put routes (name -> descriptor) straight into the state, as if made long ago."""
        state = self.state()
        stored = state["projects"][PROJECT]["routes"]
        for name, descriptor in routes.items():
            stored[name] = {"spec": descriptor, "updated": "2024-01-02T03:04:05.000000Z"}
        self.save(state)

    def calls(self) -> list[list[str]]:
        """Every argv the emulated CLIs received, in order."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]


def install(tmp_path: Path, hostnames: dict[str, str] | None = None) -> Emulator:
    """Wrappers named `akka` and `kalix` in a fresh bin folder, and a state with one project."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for prog in ("akka", "kalix"):
        wrapper = bin_dir / prog
        wrapper.write_text(
            f'#!/bin/sh\nAKKA_EMULATOR_PROG={prog} exec "{sys.executable}" "{EMULATOR}" "$@"\n',
            encoding="utf-8",
        )
        wrapper.chmod(0o755)
    emulator = Emulator(bin_dir, tmp_path / "akka-state.json", tmp_path / "akka-calls.jsonl")
    emulator.save(
        {
            "current_project": PROJECT,
            "projects": {
                PROJECT: {
                    "owner": OWNER,
                    "regions": [REGION],
                    "hostnames": hostnames,
                    "routes": {},
                }
            },
        }
    )
    return emulator
