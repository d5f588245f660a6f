"""Taking over a gateway that already serves traffic, as a platform engineer does it:
``routes export --all``, ``routes plan --adopt GLOB``, ``routes apply``, and the next plan
says "No changes". Real CLI processes; the local store, and ``routes serve`` over http."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from reconciler.model import RouteSpec
from tests.http_server import running_server
from tests.test_cli import SHOP, plan_body, routes

NO_CHANGES = "No changes. Live routes match the descriptors."
LEGACY = SHOP.replace("ecommerce", "legacy")
GOOD = {"host": "www.acme.org", "routes": [{"prefix": "/", "route": {"service": "web"}}]}


def _gateway(tmp_path: Path) -> str:
    """A local store with routes some other tool made (no routes labels)."""
    seed = tmp_path / "seed"
    (seed / "r").mkdir(parents=True)
    (seed / "r" / "shop.yaml").write_text(SHOP)
    (seed / "r" / "legacy.yaml").write_text(LEGACY)
    (seed / ".routes.yaml").write_text("owner: hand/made\n")
    store = f"local:{tmp_path / 'gateway.db'}"
    assert routes(seed, "--backend", store, "apply", "r", "--auto-approve")[0] == 0
    with sqlite3.connect(tmp_path / "gateway.db") as db:  # as a hand-made gateway has it
        db.execute("""UPDATE routes SET labels = '{"team": "web"}', annotations = '{}'""")
    return store


def _repo(tmp_path: Path, backend: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".routes.yaml").write_text(
        f"backend: {backend}\ndescriptors: [routes]\nowner: acme/shop\n"
    )
    return repo


def test_export_adopt_apply_then_plan_says_no_changes(tmp_path: Path) -> None:
    repo = _repo(tmp_path, _gateway(tmp_path))
    code, out, err = routes(repo, "export", "--all")
    assert code == 0, err
    assert "2 of them not managed by this owner: `routes plan --adopt NAME`" in out
    code, _, err = routes(repo, "plan")
    assert code == 1 and "--adopt legacy" in err and "P001" in err  # never implicit

    code, out, err = routes(repo, "plan", "--adopt", "*", "--detailed-exitcode", "--out", "p.json")
    assert code == 2, err
    assert '  # route "legacy" will be adopted by owner "acme/shop"' in out
    assert "Plan: 2 to adopt, 0 to add, 0 to change, 0 to destroy." in out
    saved = json.loads((repo / "p.json").read_text())
    assert saved["summary"]["adopt"] == 2
    assert [c["action"] for c in saved["changes"]] == ["adopt", "adopt"]
    outputs = tmp_path / "github-output"
    code, _, err = routes(repo, "github", "outputs", "p.json", env={"GITHUB_OUTPUT": str(outputs)})
    assert code == 0, err
    assert "has-changes=true" in outputs.read_text()  # the Action sees the adoption

    code, out, err = routes(repo, "apply", "p.json")
    assert code == 0, err
    assert "Apply complete: 2 applied" in out
    code, out, _ = routes(repo, "plan", "--detailed-exitcode")
    assert (code, plan_body(out)) == (0, NO_CHANGES)
    # Applying the adoption again touches nothing.
    code, out, _ = routes(repo, "apply", "p.json")
    assert code == 0 and "0 applied, 2 already applied" in out


def test_apply_adopt_of_one_route_with_a_diff(tmp_path: Path) -> None:
    repo = _repo(tmp_path, _gateway(tmp_path))
    (repo / "routes").mkdir()
    (repo / "routes" / "shop.yaml").write_text(SHOP.replace("product-info", "catalog"))
    code, out, err = routes(repo, "plan", "--adopt", "shop", "--format", "markdown")
    assert code == 0, err
    assert "**Plan:** 1 to adopt, 0 to add, 0 to change, 0 to destroy" in out
    assert "will be adopted (this owner's labels added)" in out
    assert '!        path "/product" -> product-info => catalog' in out
    assert '+        label "routes/owner" = "acme/shop"' in out
    code, out, err = routes(repo, "apply", "--adopt", "shop", "--auto-approve")
    assert code == 0, err
    assert '~ path "/product" -> product-info => catalog' in out
    code, out, _ = routes(repo, "plan")
    assert plan_body(out).endswith(NO_CHANGES)
    assert "legacy (host legacy.acme.org)" in out  # not adopted: still unmanaged


def test_a_saved_plan_takes_no_adopt_flag(tmp_path: Path) -> None:
    repo = _repo(tmp_path, _gateway(tmp_path))
    (repo / "p.json").write_text("{}")
    code, _, err = routes(repo, "apply", "p.json", "--adopt", "shop")
    assert code == 64 and "--adopt belong to the plan" in err


@pytest.mark.parametrize("adopt", ["web", "w*"])
def test_adoption_through_routes_serve(tmp_path: Path, adopt: str) -> None:
    with running_server(tmp_path / "served.db") as running:
        running.store.create_route("web", RouteSpec.from_dict(GOOD), {}, {})
        repo = _repo(tmp_path, running.url)
        assert routes(repo, "export", "--all")[0] == 0
        code, out, err = routes(repo, "apply", "--adopt", adopt, "--auto-approve")
        assert code == 0, err
        assert "Apply complete: 1 applied" in out
        stored = running.store.get_route("web")
        assert stored is not None and stored.labels["routes/owner"] == "acme/shop"
        code, out, _ = routes(repo, "plan")
        assert plan_body(out) == NO_CHANGES
