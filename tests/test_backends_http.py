"""The http backend: the shared contract against a real ``routes serve`` on loopback, and
its translation of HTTP answers into errors a user can act on."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.backends.base import Backend
from reconciler.backends.http import HttpBackend, open_http
from reconciler.config import Settings
from reconciler.errors import (
    AuthError,
    BackendError,
    ConflictError,
    InvalidSpecError,
    NotFoundError,
    TransientBackendError,
)
from tests.backend_contract import BackendContract, simple_spec
from tests.http_server import RunningServer, running_server

TOKEN = "s3cret-token-value"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("http") / "state.db", token=TOKEN) as running:
        yield running


@pytest.fixture
def empty_server(server: RunningServer) -> RunningServer:
    """The shared server with every route removed (cheaper than a server per test)."""
    for route in server.store.list_routes():
        server.store.delete_route(route.name)
    return server


class TestHttpContract(BackendContract):
    @pytest.fixture
    def backend(self, empty_server: RunningServer) -> Iterator[Backend]:
        backend = HttpBackend(empty_server.url, token=TOKEN)
        yield backend
        backend.close()
