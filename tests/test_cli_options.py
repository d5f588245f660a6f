"""Global options (``--backend``, ``--config``, ``--no-color``, ``-v``) before or after the
subcommand, as docs write them (``routes plan --backend URL``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import SHOP, routes


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "repo" / "routes").mkdir(parents=True)
    (tmp_path / "repo" / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (tmp_path / "repo" / "routes" / "shop.yaml").write_text(SHOP)
    return tmp_path / "repo"


def test_backend_after_the_subcommand_is_the_backend_used(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "elsewhere.db"
    code, out, err = routes(repo, "apply", "--backend", f"local:{store}", "--auto-approve")
    assert code == 0, err
    assert f"Backend: local:{store}" in out
    assert store.exists() and not (repo / ".routes" / "state.db").exists()
    code, out, _ = routes(repo, "plan", "--backend", f"local:{store}")
    assert (code, out.splitlines()[-1]) == (0, "No changes. Live routes match the descriptors.")
    # Before the subcommand it means the same; after it, it wins.
    backends = ("--backend", "local:other.db", "plan", "--backend", f"local:{store}")
    code, out, _ = routes(repo, *backends)
    assert out.splitlines()[-1] == "No changes. Live routes match the descriptors."


def test_config_no_color_and_verbose_after_the_subcommand(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "cfg"
    (other / "routes").mkdir(parents=True)
    (other / "routes" / "only.yaml").write_text(SHOP)
    (other / "my.yaml").write_text("descriptors: [routes]\nowner: team/other\n")
    code, out, err = routes(repo, "plan", "--config", str(other / "my.yaml"), "--no-color", "-v")
    assert code == 0, err
    assert "Owner:   team/other" in out
    assert 'route "only" will be created' in out
    assert "\x1b[" not in out


def test_a_bad_global_option_after_the_subcommand_is_a_usage_error(repo: Path) -> None:
    code, _, err = routes(repo, "plan", "--config")
    assert code == 64
    assert "--config" in err
