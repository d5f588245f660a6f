"""A Caddy config of a shape routes never writes (a hand edit, another tool) is a clear
``BackendError`` naming the admin URL, for reads and writes alike: never a traceback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.backends.caddy.backend import CaddyBackend
from reconciler.backends.options import CaddyOptions
from reconciler.errors import BackendError
from tests.backends.contract import simple_spec

ADMIN = "http://caddy.test:2019"
HOST = {"host": ["shop.example.com"]}
OURS = {"handler": "vars", "routes.labels": {}}


def ours(**route: Any) -> dict[str, Any]:
    return {
        "http": {
            "servers": {"routes": {"routes": [{"@id": "routes-shop", "match": [HOST], **route}]}}
        }
    }


# Each of these crashed a read with AttributeError, TypeError or JSONDecodeError.
NOT_A_SERVER = {"http": {"servers": {"routes": ["not a server"]}}}
BAD_POLICIES = {
    "http": {
        "servers": {
            "routes": {
                "routes": [{"@id": "routes-shop", "match": [HOST], "handle": [OURS]}],
                "tls_connection_policies": "not a list",
            }
        }
    }
}
NOT_JSON = b"<html>not JSON</html>"
FOREIGN = [
    NOT_A_SERVER,
    BAD_POLICIES,
    ours(handle=[OURS, {"handler": "subroute", "routes": [{"match": "not a list"}]}]),
    ours(handle=[OURS, {"handler": "subroute", "routes": [{"match": [{"path_regexp": "x"}]}]}]),
    NOT_JSON,
]


def backend_answering(apps: Any) -> CaddyBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(apps, bytes):
            return httpx.Response(200, content=apps)
        return httpx.Response(200, json=apps)

    client = httpx.Client(base_url=ADMIN, transport=httpx.MockTransport(handler))
    return CaddyBackend(ADMIN, CaddyOptions(upstreams={"*": "127.0.0.1:9"}), client=client)


@pytest.mark.parametrize("apps", FOREIGN)
def test_reading_a_foreign_config_is_a_clear_error(apps: Any) -> None:
    backend = backend_answering(apps)
    for read in (backend.list_routes, lambda: backend.get_route("shop")):
        with pytest.raises(BackendError) as caught:
            read()
        assert ADMIN in caught.value.message and "cannot read" in caught.value.message
        assert "hand-edited" in (caught.value.hint or "")


@pytest.mark.parametrize("apps", [NOT_A_SERVER, BAD_POLICIES, NOT_JSON])
def test_writing_into_a_foreign_config_is_a_clear_error(apps: Any) -> None:
    backend = backend_answering(apps)
    for write in (
        lambda: backend.create_route("cart", simple_spec(), {}, {}),
        lambda: backend.delete_route("shop", None),
    ):
        with pytest.raises(BackendError, match="cannot read"):
            write()
