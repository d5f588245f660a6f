"""One validation of a route spec, at every door.

Each bad spec goes through the four doors a spec can come in by: the descriptor loader
(`routes validate`), `PUT /v1/routes/{name}` on `routes serve`, a saved plan that would
write it (`routes apply plan.json`, the plan tampered with and its fingerprint recomputed),
and a backend's answer (`routes plan` against a server whose store holds it). Every door
refuses it, with the same code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.descriptors.spec_check import check_spec, hidden_errors, spec_errors
from reconciler.model import RouteSpec
from tests.http_server import running_server
from tests.in_process import plain_environment, run_routes

GOOD: dict[str, Any] = {
    "host": "shop.acme.org",
    "routes": [{"prefix": "/carts", "route": {"service": "shopping-cart"}}],
}


def _with(**changes: Any) -> dict[str, Any]:
    spec = json.loads(json.dumps(GOOD))
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = spec
        for step in path:
            node = node[int(step)] if step.isdigit() else node.setdefault(step, {})
        node[last] = value
    return spec


OWNED = {"managed-by": "routes", "routes/owner": "acme/shop"}
_BASIC = {"realm": "Shop", "passwordHashes": {"admin": "sha256:" + "A" * 43 + "="}}
_CA = {"clientValidationCa": {"name": "root-ca"}}

BAD_SPECS: list[tuple[str, dict[str, Any], str]] = [
    (
        "blank method",
        _with(corsPolicy={"allowOrigins": ["https://a.org"], "allowMethods": [" "]}),
        "R024",
    ),
    (
        "FETCH",
        _with(corsPolicy={"allowOrigins": ["https://a.org"], "allowMethods": ["FETCH"]}),
        "R024",
    ),
    (
        "zero-width method",
        _with(corsPolicy={"allowOrigins": ["https://a.org"], "allowMethods": ["\u200b"]}),
        "R024",
    ),
    (
        "md5 hash",
        _with(validation={"httpBasic": {"realm": "Shop", "passwordHashes": {"admin": "md5:xx"}}}),
        "R023",
    ),
    (
        "bad regex",
        {
            **GOOD,
            "tls": _CA,
            "validation": {"clientCertificate": {"subjectMatches": [{"regex": "(("}]}},
        },
        "R022",
    ),
    ("IP host", _with(host="127.0.0.1"), "R026"),
    ("bad punycode", _with(host="xn--a.acme.org"), "R026"),
    ("placeholder host", _with(host="{http.request.host}"), "R026"),
    ("newline in prefix", _with(routes__0__prefix='/carts\n+ path "/admin"'), "R030"),
    ("terminal escape in prefix", _with(routes__0__prefix="/\x1b]0;title\x07\x1b[2J"), "R030"),
    ("space in prefix", _with(routes__0__prefix="/a b"), "R030"),
    ("service not a label", _with(routes__0__route={"service": "attacker svc"}), "R031"),
    ("escape in rule name", _with(routes__0__name="carts\x1b[2J"), "R032"),
    ("newline in realm", _with(validation={"httpBasic": {**_BASIC, "realm": "a\nb"}}), "R032"),
    (
        "colon in user",
        _with(
            validation={
                "httpBasic": {
                    "realm": "Shop",
                    "passwordHashes": {"a:b": _BASIC["passwordHashes"]["admin"]},
                }
            }
        ),
        "R032",
    ),
    (
        "C1 control in matcher",
        {
            **GOOD,
            "tls": _CA,
            "validation": {"clientCertificate": {"subjectMatches": [{"exact": "a\x9bb"}]}},
        },
        "R032",
    ),
    ("secret name", _with(tls={"serverCertificate": {"name": "../etc/cert"}}), "R033"),
    (
        "basic auth without realm",
        _with(validation={"httpBasic": {"passwordHashes": _BASIC["passwordHashes"]}}),
        "R034",
    ),
    ("blank realm", _with(validation={"httpBasic": {**_BASIC, "realm": " "}}), "R034"),
    ("prefix without slash", _with(routes__0__prefix="carts"), "R012"),
]
IDS = [case[0] for case in BAD_SPECS]


def test_the_good_spec_passes() -> None:
    assert check_spec(GOOD) == []


@pytest.mark.parametrize(("label", "spec", "code"), BAD_SPECS, ids=IDS)
def test_check_spec_gives_the_code(label: str, spec: dict[str, Any], code: str) -> None:
    assert code in [p.code for p in spec_errors(spec)]


_routes = run_routes


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_environment(monkeypatch)


def _repo(folder: Path, spec: dict[str, Any]) -> Path:
    (folder / "routes").mkdir(parents=True)
    (folder / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (folder / "routes" / "shop.yaml").write_text(yaml.safe_dump(spec))
    return folder


@pytest.mark.parametrize(("label", "spec", "code"), BAD_SPECS, ids=IDS)
def test_the_loader_refuses_it(label: str, spec: dict[str, Any], code: str, tmp_path: Path) -> None:
    status, out = _routes(_repo(tmp_path, spec), "validate")
    assert status == 1
    assert f"error {code}" in out
    assert "\x1b" not in out and "\x9b" not in out  # the hostile value is shown escaped


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with running_server(tmp_path_factory.mktemp("serve") / "state.db") as running:
        yield running


@pytest.mark.parametrize(("label", "spec", "code"), BAD_SPECS, ids=IDS)
def test_routes_serve_refuses_it(label: str, spec: dict[str, Any], code: str, server) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.put(f"{server.url}/v1/routes/shop", json={"spec": spec})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_spec"
    assert code in [detail["code"] for detail in error["details"]]
    assert httpx.get(f"{server.url}/v1/routes/shop").status_code == 404


@pytest.mark.parametrize(("label", "spec", "code"), BAD_SPECS, ids=IDS)
def test_a_saved_plan_that_would_write_it_is_refused(
    label: str, spec: dict[str, Any], code: str, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, GOOD)
    assert _routes(repo, "apply", "--auto-approve")[0] == 0
    changed = _with(routes__0__route={"service": "carts-v2"})
    (repo / "routes" / "shop.yaml").write_text(yaml.safe_dump(changed))
    assert _routes(repo, "plan", "--out", "plan.json")[0] == 0
    plan = json.loads((repo / "plan.json").read_text())
    (change,) = plan["changes"]
    assert change["action"] == "update"
    change["after"] = spec  # what an attacker would write, fingerprint and all
    change["after_fingerprint"] = RouteSpec.from_dict(spec).fingerprint()
    (repo / "plan.json").write_text(json.dumps(plan))
    status, out = _routes(repo, "apply", "plan.json")
    assert status == 1
    assert code in out
    assert "\x1b" not in out and "\x9b" not in out
    assert _routes(repo, "plan", "--detailed-exitcode")[0] == 2  # nothing was written


@pytest.mark.parametrize(("label", "spec", "code"), BAD_SPECS, ids=IDS)
def test_a_backend_answering_it_is_refused(
    label: str, spec: dict[str, Any], code: str, tmp_path: Path
) -> None:
    # The store behind the server is written directly, past the API's validation: as an
    # older release, a hostile server or a hand edit would leave it.
    with running_server(tmp_path / "state.db") as running:
        running.store.create_route("shop", RouteSpec.from_dict(spec), OWNED, {})
        repo = _repo(tmp_path / "repo", GOOD)
        status, out = _routes(repo, "--backend", running.url, "plan")
    assert status == 1
    assert code in out and "shop" in out and running.url in out
    assert "\x1b" not in out and "\x9b" not in out


def test_a_foreign_route_does_not_stop_the_plan_but_is_never_trusted(tmp_path: Path) -> None:
    """A hand-made route on a labelled backend (no managed-by label) is shown, escaped, and
    left alone, whatever its spec; its name must still be a route name."""
    foreign = _with(host="legacy.acme.org", routes__0__prefix="/\x1b[2Jold")
    with running_server(tmp_path / "state.db") as running:
        running.store.create_route("legacy", RouteSpec.from_dict(foreign), {}, {})
        repo = _repo(tmp_path / "repo", GOOD)
        status, out = _routes(repo, "--backend", running.url, "plan")
        assert status == 0, out
        assert "legacy" in out and "\x1b" not in out
        running.store.create_route("evil\x1b[2J", RouteSpec.from_dict(GOOD), {}, {})
        status, out = _routes(repo, "--backend", running.url, "plan")
    assert status == 1
    assert "R009" in out and "\x1b" not in out


@pytest.mark.parametrize(
    ("spec", "hidden"),
    [
        (GOOD, []),
        (_with(routes__0__route={"service": "Bad_Service"}), []),  # the canonical form shows it
        (_with(host="127.0.0.1"), []),
        (_with(routes__0__prefix="carts"), []),
        ({**GOOD, "routes": [*GOOD["routes"], *GOOD["routes"]]}, ["R020"]),  # one rule kept
        (_with(routes__0__rewrite="/evil"), ["R013"]),  # dropped
        (_with(routes__0__route={"service": 5}), ["R015"]),  # read as "5"
        (_with(routes__0__enableWebsockets="false"), ["R015"]),  # read as true
        (
            _with(corsPolicy={"allowOrigins": ["https://a.org"], "allowMethods": ["po\u017ft"]}),
            ["R024"],
        ),
        ({**GOOD, "routes": "/carts"}, ["R015"]),  # no canonical form at all
    ],
)
def test_hidden_errors_are_those_the_canonical_form_would_not_show(
    spec: dict[str, Any], hidden: list[str]
) -> None:
    assert [p.code for p in hidden_errors(spec)] == hidden
