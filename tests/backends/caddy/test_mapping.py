"""RouteSpec -> Caddy JSON -> RouteSpec without a Caddy: the compact mapping's shapes."""

from __future__ import annotations

import json

import pytest

from reconciler.backends.caddy.mapping import (
    literal_prefix_pattern,
    prefixes_of_pattern,
    route_to_caddy,
    spec_from_caddy,
)
from reconciler.backends.options import CaddyOptions
from reconciler.model import RouteSpec

OPTIONS = CaddyOptions(
    upstreams={"cart": "127.0.0.1:9001", "orders": "127.0.0.1:9002", "*": "127.0.0.1:9000"}
)


@pytest.mark.parametrize(
    "prefixes",
    [["/"], ["/a.b"], ["/x(1)", "/y|z"], ["/a\\b", "/c$", "/[d]"], ["/ws", "/w+s", "/%20"]],
)
def test_prefix_patterns_read_back_as_the_literal_prefixes(prefixes: list[str]) -> None:
    assert prefixes_of_pattern(literal_prefix_pattern(prefixes)) == prefixes


@pytest.mark.parametrize("pattern", ["^/a.*", "/a", "^(?:/a|/b.*)", "^(?:/a", "^/a\\"])
def test_other_regular_expressions_are_no_prefixes(pattern: str) -> None:
    assert prefixes_of_pattern(pattern) == []


def caddy_route(spec: RouteSpec) -> dict[str, object]:
    return route_to_caddy("shop", spec, {"managed-by": "routes"}, {}, OPTIONS, "0" * 16)


def test_one_guard_serves_every_refusing_prefix_and_the_marker_keeps_only_what_caddy_cannot():
    spec = RouteSpec.from_dict(
        {
            "host": "shop.example.com",
            "routes": [
                {"prefix": f"/p{i}", "route": {"service": "cart" if i % 2 else "orders"}}
                for i in range(8)
            ]
            + [{"prefix": "/misc", "route": {"service": "other"}, "name": "misc"}],
        }
    )
    route = caddy_route(spec)
    marker, subroute = route["handle"]  # type: ignore[misc]
    guards = [r for r in subroute["routes"] if "header_regexp" in r["match"][0]]
    assert len(guards) == 1 and len(subroute["routes"]) == 1 + 9
    assert marker["routes.names"] == {"/misc": "misc"}
    assert marker["routes.services"] == {"/misc": "other"}  # served by the "*" upstream
    assert spec_from_caddy(json.loads(json.dumps(route)), None, OPTIONS) == spec


def test_a_refusing_prefix_under_an_allowing_one_keeps_its_own_guard() -> None:
    spec = RouteSpec.from_dict(
        {
            "host": "chat.example.com",
            "routes": [
                {"prefix": "/chat", "route": {"service": "cart"}},
                {"prefix": "/chat/ws", "route": {"service": "cart"}, "enableWebsockets": True},
                {"prefix": "/api", "route": {"service": "orders"}},
            ],
        }
    )
    route = caddy_route(spec)
    routes = route["handle"][1]["routes"]  # type: ignore[index]
    patterns = [
        (r["match"][0]["path_regexp"]["pattern"], "header_regexp" in r["match"][0]) for r in routes
    ]
    assert patterns == [
        ("^/api", True),  # the shared guard: /api only
        ("^/chat/ws", False),
        ("^/chat", True),  # /chat's own guard, after the longer /chat/ws
        ("^/chat", False),
        ("^/api", False),
    ]
    assert spec_from_caddy(route, None, OPTIONS) == spec
