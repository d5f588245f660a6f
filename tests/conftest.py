"""Fixtures every test folder may use: a throwaway PostgreSQL cluster per test process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg_cluster import Cluster, start_cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One cluster per test process (xdist worker), stopped and removed at the end."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """The URL (with its password) of a fresh, empty database of its own."""
    return pg_cluster.database()
