"""examples/caddy/walkthrough.sh runs end to end: Caddy, two upstreams, routes apply, curl."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.backends import BACKENDS
from tests.caddy_helpers import caddy_binary

pytestmark = pytest.mark.caddy
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "caddy"


def test_the_walkthrough_serves_the_example_route_through_caddy() -> None:
    caddy_binary()
    if "caddy+http" not in BACKENDS:
        pytest.skip("caddy+http is not registered in reconciler.backends.BACKENDS yet")
    routes = shutil.which("routes")
    if routes is None or shutil.which("curl") is None:
        pytest.skip("the walkthrough needs `routes` and `curl` on PATH")
    result = subprocess.run(
        ["bash", str(EXAMPLE / "walkthrough.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ROUTES": routes, "PYTHON": sys.executable, "NO_COLOR": "1"},
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
