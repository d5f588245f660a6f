"""``routes export``: says what it left out, and writes ``routes/`` only where descriptors
live (a ``.routes.yaml`` here or above, or a git repository)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.test_cli import SHOP, routes

OTHER = SHOP.replace("ecommerce", "legacy")


def _seed(tmp_path: Path) -> Path:
    """A store holding one route of owner acme/shop and one route nobody owns."""
    seed = tmp_path / "seed"
    (seed / "mine").mkdir(parents=True)
    (seed / "mine" / "shop.yaml").write_text(SHOP)
    (seed / "theirs").mkdir()
    (seed / "theirs" / "legacy.yaml").write_text(OTHER)
    store = f"local:{tmp_path / 'state.db'}"
    (seed / ".routes.yaml").write_text("owner: acme/shop\n")
    assert routes(seed, "--backend", store, "apply", "mine", "--auto-approve")[0] == 0
    (seed / ".routes.yaml").write_text("owner: someone/else\n")
    assert routes(seed, "--backend", store, "apply", "theirs", "--auto-approve")[0] == 0
    return tmp_path / "state.db"


def test_export_says_how_many_unmanaged_routes_it_skipped(tmp_path: Path) -> None:
    store = _seed(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".routes.yaml").write_text(f"backend: local:{store}\nowner: acme/shop\n")
    code, out, err = routes(repo, "export")
    assert code == 0, err
    assert "Exported 1 route(s) to routes." in out
    assert "Skipped 1 unmanaged route(s), not managed by this owner; " in out
    assert "`routes export --all` includes them." in out
    assert sorted(p.name for p in (repo / "routes").iterdir()) == ["shop.yaml"]
    code, out, _ = routes(repo, "export", "--all")
    assert "Exported 2 route(s) to routes." in out and "Skipped" not in out


def test_export_outside_a_descriptor_repository_refuses(tmp_path: Path) -> None:
    store = _seed(tmp_path)
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    code, out, err = routes(nowhere, "--backend", f"local:{store}", "export")
    assert code == 64, out + err
    assert "is not a descriptor repository" in err and "nothing was exported" in err
    assert "--dir DIR" in err
    assert list(nowhere.iterdir()) == []
    # Naming the folder is a choice: it is honoured anywhere.
    code, out, err = routes(nowhere, "--backend", f"local:{store}", "export", "--all", "--dir", "o")
    assert code == 0, err
    assert (nowhere / "o" / "shop.yaml").exists()


def test_export_in_a_git_repository_without_config_writes_routes(tmp_path: Path) -> None:
    store = _seed(tmp_path)
    repo = tmp_path / "checkout"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    code, _out, err = routes(repo, "--backend", f"local:{store}", "export", "--all")
    assert code == 0, err
    assert (repo / "routes" / "legacy.yaml").exists()


def test_export_of_nothing_creates_no_empty_folder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".routes.yaml").write_text("owner: acme/shop\n")
    code, out, err = routes(repo, "export")
    assert code == 0, err
    assert "Exported 0 route(s) to routes." in out
    assert not (repo / "routes").exists()
