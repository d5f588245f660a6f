"""``routes explain`` and ``routes graph``, as a platform engineer runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.in_process import plain_environment, run_routes

SHOP = """\
host: ecommerce.acme.org
corsPolicy:
  allowOrigins: [https://www.acme.org]
  allowMethods: [GET, POST]
routes:
- prefix: /
  route: {service: storefront}
- prefix: /carts
  route: {service: shopping-cart}
  name: carts
  enableWebsockets: true
"""

PARTNERS = """\
host: partners.acme.org
tls:
  clientValidationCa: {name: partner-ca}
validation:
  clientCertificate:
    subjectMatches: [{hasSuffix: .acme.org}]
  httpBasic:
    realm: Partners
    passwordHashes: {ops: "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
routes:
- prefix: /orders
  route: {service: order-service}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    plain_environment(monkeypatch)
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "shop.yaml").write_text(SHOP)
    (tmp_path / "routes" / "partners.yaml").write_text(PARTNERS)
    return tmp_path


def test_explain_names_route_rule_service_and_what_applies(repo: Path) -> None:
    code, out = run_routes(repo, "explain", "https://Ecommerce.Acme.org./carts/42?x=1")
    assert code == 0, out
    assert out.splitlines() == [
        "https://Ecommerce.Acme.org./carts/42?x=1",
        "  -> service shopping-cart",
        '  route "shop" at routes/shop.yaml:1, prefix "/carts" (name "carts")',
        '  host "ecommerce.acme.org", path "/carts/42"',
        '  without it: prefix "/" of route "shop"',
        "  websockets: allowed",
        '  CORS: origins "https://www.acme.org"; methods GET, POST',
        "  mTLS: off",
        "  basic auth: off",
    ]


def test_explain_shows_mtls_and_basic_auth_but_never_a_hash(repo: Path) -> None:
    code, out = run_routes(repo, "explain", "https://partners.acme.org/orders/1")
    assert code == 0, out
    assert (
        '  mTLS: client certificate signed by CA "partner-ca" required; '
        'subject must match hasSuffix ".acme.org"' in out.splitlines()
    )
    assert '  basic auth: required (realm "Partners", users "ops")' in out.splitlines()
    assert "AAAA" not in out


def test_unmatched_requests_say_404_and_why(repo: Path) -> None:
    code, out = run_routes(
        repo, "explain", "https://partners.acme.org/carts", "http://nowhere.acme.org/"
    )
    assert code == 0, out
    assert '  404: no prefix of route(s) "partners" matches path "/carts"' in out
    assert '  404: no route serves host "nowhere.acme.org"' in out


def test_explain_json_is_the_same_answer(repo: Path) -> None:
    code, out = run_routes(repo, "explain", "--format", "json", "https://ecommerce.acme.org/x")
    assert code == 0, out
    answer = json.loads(out)
    assert answer["from"] == "descriptors"
    [request] = answer["requests"]
    assert (request["route"], request["prefix"], request["service"]) == ("shop", "/", "storefront")
    assert request["cors"]["allowOrigins"] == ["https://www.acme.org"]


def test_explain_live_reads_what_the_backend_serves(repo: Path) -> None:
    assert run_routes(repo, "apply", "--auto-approve")[0] == 0
    (repo / "routes" / "shop.yaml").write_text(SHOP.replace("shopping-cart", "carts-v2"))
    _, planned = run_routes(repo, "explain", "https://ecommerce.acme.org/carts/1")
    _, live = run_routes(repo, "explain", "--live", "https://ecommerce.acme.org/carts/1")
    assert "-> service carts-v2" in planned
    assert "-> service shopping-cart" in live
    assert "at local:" in live


@pytest.mark.parametrize(
    "url",
    [
        "ecommerce.acme.org/carts",
        "ftp://ecommerce.acme.org/",
        "https://user:pw@ecommerce.acme.org/",
        "https://ecommerce.acme.org/a b",
        "https://ecommerce.acme.org/\x1b[2J",
        "https://*.acme.org/",
        "https://10.0.0.1/",
    ],
)
def test_a_bad_url_is_a_usage_error_with_the_url_escaped(repo: Path, url: str) -> None:
    code, out = run_routes(repo, "explain", url)
    assert code == 64, out
    assert out.startswith("Error: ")
    assert "\x1b" not in out


def test_graph_draws_the_whole_table(repo: Path) -> None:
    code, out = run_routes(repo, "graph")
    assert code == 0, out
    assert out.startswith("flowchart LR\n")
    assert '["partners.acme.org"]' in out and '["order-service"]' in out
    code, dot = run_routes(repo, "graph", "--format", "dot")
    assert code == 0 and dot.startswith("digraph routes {")
    assert '[label="shopping-cart", shape=ellipse];' in dot
