"""``routes plan`` predicts the apply: its last line says what is kept, it says up front
what apply will refuse, and its exit code agrees with ``routes drift``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import SHOP, routes


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (tmp_path / "routes").mkdir()
    for name in ("shop", "cart", "admin"):
        (tmp_path / "routes" / f"{name}.yaml").write_text(SHOP.replace("ecommerce", name))
    code, out, err = routes(tmp_path, "apply", "--auto-approve")
    assert code == 0, out + err
    return tmp_path


def test_a_route_kept_without_prune_is_said_and_counts_as_a_difference(repo: Path) -> None:
    (repo / "routes" / "admin.yaml").unlink()
    code, out, _ = routes(repo, "plan", "--detailed-exitcode")
    assert code == 2, "live state differs from the descriptors"
    assert out.strip().splitlines()[-1] == (
        "No changes to apply; 1 owned route is no longer described (kept)."
    )
    code, _, _ = routes(repo, "drift")
    assert code == 2, "drift agrees with plan --detailed-exitcode"
    code, out, _ = routes(repo, "plan", "--format", "json")
    assert json.loads(out)["kept"] == ["admin"]

    (repo / "routes" / "new.yaml").write_text(SHOP.replace("ecommerce", "new"))
    code, out, _ = routes(repo, "plan")
    assert out.strip().splitlines()[-1] == (
        "Plan: 1 to add, 0 to change, 0 to destroy. 1 owned route is no longer described (kept)."
    )
    code, out, _ = routes(repo, "plan", "--format", "markdown")
    assert out.startswith("**Plan:** 1 to add, 0 to change, 0 to destroy, 2 unchanged; 1 owned")

    (repo / "routes" / "new.yaml").unlink()
    code, _, err = routes(repo, "apply", "--auto-approve", "--prune")
    assert code == 0, err
    code, out, _ = routes(repo, "plan", "--detailed-exitcode")
    assert (code, out.strip().splitlines()[-1]) == (
        0,
        "No changes. Live routes match the descriptors.",
    )
    assert out.startswith("Backend: ")
    code, _, _ = routes(repo, "drift")
    assert code == 0


def test_plan_says_up_front_that_apply_will_refuse_too_many_deletes(repo: Path) -> None:
    (repo / "routes" / "admin.yaml").unlink()
    (repo / "routes" / "cart.yaml").unlink()
    code, out, _ = routes(repo, "plan", "--prune", "--max-deletes", "1", "--detailed-exitcode")
    assert code == 1, "a plan apply would refuse is no green plan"
    assert out.splitlines()[3:5] == [
        "Apply will refuse this plan:",
        "  ! refusing to delete 2 routes (more than --max-deletes 1); pass --max-deletes 2 if"
        " intended",
    ]
    assert "Plan: 0 to add, 0 to change, 2 to destroy." in out

    code, md, _ = routes(repo, "plan", "--prune", "--max-deletes", "1", "--format", "markdown")
    head = md.split("\n\n")[:2]
    assert head[0].startswith("**Plan:** 0 to add, 0 to change, 2 to destroy")
    assert head[1].startswith("> [!CAUTION]\n> **`routes apply` will refuse this plan:**")
    assert "pass --max-deletes 2 if intended" in head[1]

    code, _, _ = routes(repo, "plan", "--prune", "--max-deletes", "2", "--detailed-exitcode")
    assert code == 2
    code, out, _ = routes(repo, "plan", "--prune", "--max-deletes", "1", "--out", "p.json")
    assert json.loads((repo / "p.json").read_text())["refusals"][0]["guard"] == "max-deletes"
    code, out, _ = routes(repo, "show", "p.json")
    assert out.split("\n\n", 1)[1].startswith("Apply will refuse this plan:")  # after the header
    code, _, err = routes(repo, "apply", "p.json", "--prune", "--max-deletes", "1")
    assert code == 1 and "--max-deletes 2" in err


def test_plan_says_up_front_that_apply_will_refuse_to_empty_the_gateway(repo: Path) -> None:
    for name in ("shop", "cart", "admin"):
        (repo / "routes" / f"{name}.yaml").unlink()
    code, out, _ = routes(repo, "plan", "--prune", "--detailed-exitcode")
    assert code == 1
    assert out.splitlines()[3:6] == [
        "Apply will refuse this plan:",
        "  ! refusing to delete 3 route(s): the desired set is empty",
        "    (check the descriptor paths; pass --allow-empty if every route should go)",
    ]
    code, out, _ = routes(repo, "plan", "--prune", "--allow-empty", "--detailed-exitcode")
    assert code == 2 and "Apply will refuse" not in out
