"""``routes test`` and the expectations ``routes plan`` checks: located failures, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.commands.test_explain import SHOP
from tests.in_process import plain_environment, run_routes
from tests.test_cli import routes

EXPECTATIONS = """\
# what must keep working
https://ecommerce.acme.org/carts/42: shopping-cart
https://ecommerce.acme.org/: storefront
https://admin.acme.org/: 404
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    plain_environment(monkeypatch)
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "shop.yaml").write_text(SHOP)
    (tmp_path / ".routes-tests.yaml").write_text(EXPECTATIONS)
    return tmp_path


def test_passing_expectations_exit_0(repo: Path) -> None:
    code, out = run_routes(repo, "test")
    assert code == 0, out
    assert out.strip() == "Traffic tests: 3 checked against the descriptors, 0 failed."


def test_a_failed_expectation_is_located_and_exits_1(repo: Path) -> None:
    (repo / ".routes-tests.yaml").write_text(EXPECTATIONS.replace(": 404", ": admin-ui"))
    code, out = run_routes(repo, "test")
    assert code == 1
    assert (
        '.routes-tests.yaml:4:1: error T001: "https://admin.acme.org/" should reach '
        "admin-ui but reaches 404 (no route matches)"
    ) in out.splitlines()
    assert out.splitlines()[-1] == "Traffic tests: 3 checked against the descriptors, 1 failed."


def test_github_format_annotates_the_expectation_line_escaped(repo: Path) -> None:
    hostile = "https://ecommerce.acme.org/x%0A::error::,y: nope\n"
    (repo / "routes-tests.yaml").write_text(hostile)
    code, out = run_routes(repo, "test", "routes-tests.yaml", "--format", "github")
    assert code == 1
    # One annotation on the expectation's line, its "%" escaped so "%0A" stays literal.
    assert out.splitlines() == [
        "::error file=routes-tests.yaml,line=1,col=1,title=T001::"
        '"https://ecommerce.acme.org/x%250A::error::,y" should reach nope but reaches '
        'storefront (route "shop", prefix "/")',
        "Traffic tests: 1 checked against the descriptors, 1 failed.",
    ]


def test_expectations_are_checked_against_live_routes_with_live(repo: Path) -> None:
    assert run_routes(repo, "apply", "--auto-approve")[0] == 0
    (repo / "routes" / "shop.yaml").write_text(SHOP.replace("shopping-cart", "carts-v2"))
    assert run_routes(repo, "test")[0] == 1
    code, out = run_routes(repo, "test", "--live")
    assert code == 0, out
    assert "checked against the live routes of local:" in out


@pytest.mark.parametrize(
    ("content", "where", "says"),
    [
        ("https://a.acme.org/: [x]\n", ":1:1: error T002", "expected a service name"),
        ("a.acme.org/x: svc\n", ":1:1: error T002", "is not http(s)://HOST/PATH"),
        ("ok: 1\nok: 2\n", ":2:1: error R002", "duplicate key"),
        ("- https://a.acme.org/: x\n", ":1:1: error T002", "must be one mapping"),
        ("https://a.acme.org/: [\n", ":2:1: error R001", "YAML syntax error"),
    ],
)
def test_a_bad_expectations_file_is_located(
    repo: Path, content: str, where: str, says: str
) -> None:
    (repo / ".routes-tests.yaml").write_text(content)
    code, out = run_routes(repo, "test")
    assert code == 1
    assert f".routes-tests.yaml{where}" in out and says in out, out


def test_no_expectations_file_says_where_to_write_one(repo: Path) -> None:
    (repo / ".routes-tests.yaml").unlink()
    code, out = run_routes(repo, "test")
    assert code == 64
    assert "no traffic expectations at .routes-tests.yaml" in out


def test_a_plan_that_breaks_an_expectation_fails_and_is_not_saved(repo: Path) -> None:
    assert run_routes(repo, "apply", "--auto-approve")[0] == 0
    removed = SHOP.split("- prefix: /carts")[0]
    (repo / "routes" / "shop.yaml").write_text(removed)
    code, out, err = routes(repo, "plan", "--out", "plan.json")
    assert code == 1
    assert not (repo / "plan.json").exists()
    assert (
        'Error: [T001] .routes-tests.yaml:2:1: "https://ecommerce.acme.org/carts/42" should '
        'reach shopping-cart but reaches storefront (route "shop", prefix "/")'
    ) in out.splitlines()
    assert '  ! requests under "ecommerce.acme.org/carts" fall through to "/"' in out
    assert "Traffic tests: 3 checked against the routes as this plan leaves them, 1 failed." in err
    assert (
        "Error: the plan fails 1 traffic test(s), listed above; it was not saved to plan.json"
        in err
    )
    code, out, _ = routes(repo, "plan", "--format", "json")
    assert code == 1
    assert [d["code"] for d in json.loads(out)["diagnostics"]] == ["T001"]


def test_a_plan_keeping_every_expectation_passes(repo: Path) -> None:
    (repo / "routes" / "shop.yaml").write_text(SHOP.replace("  enableWebsockets: true\n", ""))
    code, out, err = routes(repo, "plan", "--out", "plan.json")
    assert code == 0, out + err
    assert (repo / "plan.json").exists()
    assert "Traffic tests: 3 checked against the routes as this plan leaves them, 0 failed." in err


def test_a_targeted_plan_checks_only_the_hosts_it_read(repo: Path) -> None:
    (repo / "routes" / "blog.yaml").write_text(
        "host: blog.acme.org\nroutes:\n- prefix: /\n  route: {service: blog}\n"
    )
    code, out, err = routes(repo, "plan", "--target", "blog")
    assert code == 0, out + err
    assert "Traffic tests: 0 checked against the routes as this plan leaves them, 0 failed, " in err
    assert "3 skipped (hosts this plan did not read)." in err


def test_a_saved_plan_shows_its_traffic_again(repo: Path) -> None:
    (repo / ".routes-tests.yaml").unlink()
    assert run_routes(repo, "apply", "--auto-approve")[0] == 0
    (repo / "routes" / "shop.yaml").write_text(SHOP.split("- prefix: /carts")[0])
    code, planned = run_routes(repo, "plan", "--out", "plan.json")
    assert code == 0, planned
    code, shown = run_routes(repo, "show", "plan.json")
    assert code == 0, shown
    line = '    - "/carts": shopping-cart => storefront via "/" (prefix removed, falls through)'
    assert line in planned.splitlines() and line in shown.splitlines()
    saved = json.loads((repo / "plan.json").read_text())
    assert saved["traffic"][0]["moves"][0]["risk"] is True
