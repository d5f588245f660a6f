"""A ``routes serve`` on a real loopback socket per test module, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.http_server import RunningServer, running_server
from tests.pg_cluster import STORE_KINDS, store_location
from tests.server.support import AUTH, TOKEN


@pytest.fixture(scope="module", params=STORE_KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The server over each store in turn: a SQLite file, then a PostgreSQL database."""
    location = store_location(request, tmp_path_factory.mktemp("srv"))
    with running_server(location, token=TOKEN) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    """A client with the token, against the shared server emptied of routes and hostnames."""
    for route in server.store.list_routes():
        server.store.delete_route(route.name)
    for hostname in server.store.list_hostnames():
        server.store.remove_hostname(hostname.hostname)
    server.store.set_hostname_mode("any")
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        yield http
