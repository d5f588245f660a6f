"""The backend contract over the in-process backends: memory and local (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.backends import open_backend
from reconciler.backends.base import Backend
from reconciler.backends.checked import CheckedBackend
from reconciler.backends.local import LocalBackend, open_local
from reconciler.backends.memory import MemoryBackend
from reconciler.backends.options import LocalOptions
from reconciler.config import Settings
from tests.backends.contract import BackendContract, BatchWriterContract


class TestMemoryContract(BackendContract):
    @pytest.fixture
    def backend(self) -> Iterator[Backend]:
        backend = MemoryBackend()
        yield backend
        backend.close()


class TestLocalContract(BackendContract, BatchWriterContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        backend = open_local("local:state/routes.db", LocalOptions(tmp_path))
        yield backend
        backend.close()


def test_registry_opens_these_backends(tmp_path: Path) -> None:
    memory = open_backend("memory:")
    local = open_backend("local:state.db", Settings(root=tmp_path).backend_options())
    # Every backend the registry opens answers through the one route validation.
    assert isinstance(memory, CheckedBackend) and isinstance(local, CheckedBackend)
    assert isinstance(memory.inner, MemoryBackend)
    assert isinstance(local.inner, LocalBackend)
    assert local.inner.store.path == tmp_path / "state.db"
    for backend in (memory, local):
        assert isinstance(backend, Backend)
        backend.close()
