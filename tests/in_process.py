"""The real CLI, run in this process: a subprocess per call would cost a second each."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from reconciler.cli import main


def run_routes(cwd: Path, *args: str) -> tuple[int, str]:
    """``routes ARGS`` in ``cwd``: (exit code, stdout + stderr); never a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.raises(SystemExit) as done,
    ):
        main(list(args))
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return int(done.value.code or 0), out.getvalue() + err.getvalue()


def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour and none of the user's ROUTES_* settings (call it from a fixture)."""
    monkeypatch.setenv("NO_COLOR", "1")
    for name in ("ROUTES_BACKEND", "ROUTES_CONFIG", "ROUTES_TOKEN", "ROUTES_LOAD_WORKERS"):
        monkeypatch.delenv(name, raising=False)
