"""The in-memory backend's extras for tests: write counting and default URL."""

from __future__ import annotations

import pytest

from reconciler.backends.memory import MemoryBackend
from reconciler.errors import ConflictError, NotFoundError
from tests.backends.contract import ANNOTATIONS, LABELS, simple_spec


def test_write_count_counts_successful_writes_only() -> None:
    backend = MemoryBackend()
    assert backend.url == "memory:"
    created = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    backend.list_routes()
    backend.get_routes(["shop", "other"])
    with pytest.raises(ConflictError):
        backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    with pytest.raises(NotFoundError):
        backend.delete_route("other", None)
    assert backend.write_count == 1
    replaced = backend.replace_route("shop", simple_spec(service="v2"), {}, {}, created.version)
    backend.delete_route("shop", replaced.version)
    assert backend.write_count == 3


def test_every_write_reports_ready_conditions() -> None:
    route = MemoryBackend("memory:test").create_route("shop", simple_spec(), {}, {})
    assert [(c.type, c.status) for c in route.conditions] == [
        ("HostValidation", "True"),
        ("Ready", "True"),
    ]
    assert route.conditions[0].last_transition_time.endswith("Z")
