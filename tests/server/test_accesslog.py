"""The access log of ``routes serve``: method, path, status, duration; never the token."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.server.support import TOKEN

# -- access log -------------------------------------------------------------------------------


def test_access_log_has_method_path_status_and_never_the_token(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="reconciler.server.access"):
        client.get("/v1/routes", params={"pageSize": "5"})
        client.get("/v1/routes/nope")
    lines = [r.getMessage() for r in caplog.records if r.name == "reconciler.server.access"]
    assert any(line.startswith("GET /v1/routes 200 ") and line.endswith("ms") for line in lines)
    assert any(line.startswith("GET /v1/routes/nope 404 ") for line in lines)
    assert not any(TOKEN in line or "Bearer" in line or "pageSize" in line for line in lines)
