"""Fixtures shared by the apply tests."""

from __future__ import annotations

import pytest

from reconciler.model import RouteSpec
from reconciler.plan import Plan
from tests.apply.support import RecordingBackend, seed_mixed


@pytest.fixture
def mixed() -> tuple[RecordingBackend, Plan, dict[str, RouteSpec]]:
    """Three creates, three updates, three deletes against a seeded backend."""
    backend = RecordingBackend()
    return backend, *seed_mixed(backend)
