"""The platform's matching rules: host after canonicalisation, longest literal prefix."""

from __future__ import annotations

import pytest

from reconciler.backends.caddy.mapping import prefix_of_pattern, route_to_caddy
from reconciler.backends.options import CaddyOptions
from reconciler.matching import RoutingTable, clean_path, serving_order
from reconciler.model import RouteSpec


def spec(host: str, *rules: tuple[str, str]) -> RouteSpec:
    return RouteSpec.from_dict(
        {"host": host, "routes": [{"prefix": p, "route": {"service": s}} for p, s in rules]}
    )


SHOP = spec("shop.acme.org", ("/", "storefront"), ("/carts", "cart"), ("/carts/v2", "cart-v2"))
TABLE = RoutingTable(
    {
        "shop": SHOP,
        "api": spec("api.acme.org", ("/v1", "api-v1"), ("/v1/", "api-v1-slash")),
        "bücher": spec("bücher.example", ("/", "books")),
    }
)


@pytest.mark.parametrize(
    ("host", "path", "service"),
    [
        ("shop.acme.org", "/carts/42", "cart"),
        ("shop.acme.org", "/carts", "cart"),
        ("shop.acme.org", "/cartsX", "cart"),  # literal string prefix, not a path segment
        ("shop.acme.org", "/carts/v2/1", "cart-v2"),
        ("shop.acme.org", "/Carts/1", "storefront"),  # case-sensitive
        ("shop.acme.org", "/", "storefront"),
        ("Shop.ACME.org.", "/carts/1", "cart"),  # host canonicalised
        ("shop.acme.org", "/carts/v2/../1", "cart"),  # dot segments resolved first
        ("shop.acme.org", "//carts//v2", "cart-v2"),  # slashes merged first
        ("shop.acme.org", "/carts?x=/carts/v2", "cart"),  # the query is not the path
        ("api.acme.org", "/v1", "api-v1"),
        ("api.acme.org", "/v1/", "api-v1-slash"),
        ("api.acme.org", "/v1x", "api-v1"),
        ("api.acme.org", "/v2", None),
        ("other.acme.org", "/", None),
        ("xn--bcher-kva.example", "/x", "books"),
        ("BÜCHER.example", "/x", "books"),
    ],
)
def test_longest_literal_prefix_on_the_canonical_host_wins(
    host: str, path: str, service: str | None
) -> None:
    match = TABLE.match(host, path)
    assert (match.rule.service if match else None) == service


def test_clean_path_keeps_a_trailing_slash_and_resolves_dots() -> None:
    assert clean_path("/a/./b/../c/") == "/a/c/"
    assert clean_path("/..") == "/"
    assert clean_path("") == "/"
    assert clean_path("/a//b?q#f") == "/a/b"


def test_across_routes_of_one_host_the_longest_prefix_wins_and_ties_are_named() -> None:
    table = RoutingTable(
        {
            "web": spec("h.acme.org", ("/", "web"), ("/a/b", "deep")),
            "mid": spec("h.acme.org", ("/a", "mid")),
            "twin": spec("h.acme.org", ("/a", "twin")),
        }
    )
    match = table.match("h.acme.org", "/a/x")
    assert match is not None
    assert (match.route, match.rule.service) == ("mid", "mid")
    assert match.tied == ("twin",)
    assert match.shorter == (("web", "/"),)
    found = table.match("h.acme.org", "/a/b/c")
    assert found is not None and found.route == "web"
    assert found.shorter == (("mid", "/a"), ("twin", "/a"), ("web", "/"))


def test_the_caddy_mapping_writes_rules_in_the_serving_order() -> None:
    """The engine tries a route's rules in the order the matching function ranks them."""
    options = CaddyOptions(upstreams={"*": "127.0.0.1:1"})
    caddy = route_to_caddy("shop", SHOP, {}, {}, options, "r1")
    written = [
        prefix_of_pattern(sub["match"][0]["path_regexp"]["pattern"])
        for sub in caddy["handle"][1]["routes"]
        if "header_regexp" not in sub["match"][0]
    ]
    assert written == [rule.prefix for rule in serving_order(SHOP.paths)]
    assert written == ["/carts/v2", "/carts", "/"]
