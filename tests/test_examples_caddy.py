"""examples/caddy/walkthrough.sh runs end to end: Caddy, two upstreams, routes apply, curl."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.backends import BACKENDS
from tests.caddy_helpers import caddy_binary

pytestmark = pytest.mark.caddy
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "caddy"


def _routes_under_test(folder: Path) -> Path:
    """A `routes` command that runs this checkout with this interpreter, whatever `routes`
    is first on PATH (an older install would otherwise be the one tested)."""
    command = folder / "routes"
    command.write_text(
        f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)} "
        '-m reconciler "$@"\n'
    )
    command.chmod(0o755)
    return command


def test_the_walkthrough_serves_the_example_route_through_caddy(tmp_path: Path) -> None:
    caddy_binary()
    if "caddy+http" not in BACKENDS:
        pytest.skip("caddy+http is not registered in reconciler.backends.BACKENDS yet")
    if shutil.which("curl") is None:
        pytest.skip("the walkthrough needs `curl` on PATH")
    routes = _routes_under_test(tmp_path)
    result = subprocess.run(
        ["bash", str(EXAMPLE / "walkthrough.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ROUTES": str(routes), "PYTHON": sys.executable, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Apply complete: 1 applied" in out
    assert "shopping-cart got /carts/42\n" in out
    assert "frontend got /index.html\n" in out
    assert "preflight 204\n" in out
    assert "no route matches this host and path\n404\n" in out
    assert "No drift" in out
    assert not (EXAMPLE / ".routes").exists()  # the script cleans up after itself
