"""Shared pieces of the ``routes serve`` tests: the token, a spec, and small request helpers."""

from __future__ import annotations

from typing import Any

import httpx

TOKEN = "tok-9f8e7d6c5b4a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SPEC = {"host": "shop.acme.org", "routes": [{"prefix": "/carts", "route": {"service": "cart"}}]}


def put(client: httpx.Client, name: str, spec: Any = SPEC, **headers: str) -> httpx.Response:
    return client.put(f"/v1/routes/{name}", json={"spec": spec}, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error
