"""The fake GitHub's fixtures (support.py) for every test in this folder."""

from __future__ import annotations

from tests.integrations.github.support import client, env, fake, sleeps

__all__ = ["client", "env", "fake", "sleeps"]  # fixtures, re-exported for pytest
