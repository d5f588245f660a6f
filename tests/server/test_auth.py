"""Bearer-token authentication of ``routes serve``: every request but ``/healthz``."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

import reconciler.server.auth as auth
from tests.http_server import RunningServer, running_server
from tests.server.support import SPEC, TOKEN, error_of

# -- health and auth ------------------------------------------------------------------------


def test_healthz_needs_no_token(server: RunningServer) -> None:
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/routes"),
        ("GET", "/v1/routes/shop"),
        ("PUT", "/v1/routes/shop"),
        ("DELETE", "/v1/routes/shop"),
        ("GET", "/v1/hostnames"),
        ("POST", "/v1/hostnames"),
        ("DELETE", "/v1/hostnames/shop.acme.org"),
    ],
)
def test_every_api_request_needs_the_token(server: RunningServer, method: str, path: str) -> None:
    missing = httpx.request(method, server.url + path, json={"spec": SPEC})
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(missing)["code"] == "unauthorized"
    wrong = httpx.request(
        method, server.url + path, headers={"Authorization": "Bearer nope"}, json={"spec": SPEC}
    )
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert TOKEN not in wrong.text


def test_other_auth_schemes_are_refused(server: RunningServer) -> None:
    basic = base64.b64encode(f"user:{TOKEN}".encode()).decode()
    response = httpx.get(server.url + "/v1/routes", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 401


def test_the_token_is_compared_in_constant_time(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert client.get("/v1/routes").status_code == 200
    assert seen == [(TOKEN.encode(), TOKEN.encode())]


def test_server_without_token_serves_everyone(tmp_path: Path) -> None:
    with running_server(tmp_path / "open.db") as server:
        assert httpx.get(server.url + "/v1/routes").status_code == 200
