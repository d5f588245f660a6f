"""``routes export``: a live route's name never becomes a path outside ``--dir``.

A backend is not trusted to hand back names that are safe file names: a hostile http server
or a Caddy ``@id`` can say ``../../../../tmp/x``. Export must refuse before writing anything,
``--force`` or not, and say which route on which backend is the problem.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from reconciler.backends.memory import MemoryBackend
from reconciler.commands.export import _target, export_routes
from reconciler.config import Settings
from reconciler.errors import EXIT_ERROR, RoutesError
from reconciler.model import RouteSpec
from tests.test_cli import SHOP, routes

TRAVERSAL = "../../../../tmp/x"
FORGED = "evil\n::error file=x::owned"
PRECIOUS = "host: keep.acme.org\n# not ours to overwrite\n"
# Four levels deep, so the traversal lands inside the test's own folder, at a/tmp/x.yaml.
EXPORT_DIR = "a/b/c/d/out"


def _seed_hostile(repo: Path, name: str) -> None:
    """Apply ``shop``, then copy its row under a hostile name, as a hostile server would."""
    code, out, err = routes(repo, "apply", "--auto-approve")
    assert code == 0, out + err
    db = sqlite3.connect(repo / ".routes" / "state.db")
    with db:
        db.execute(
            "INSERT INTO routes SELECT ?, spec, labels, annotations, version + 1,"
            " created_at, updated_at FROM routes WHERE name = 'shop'",
            (name,),
        )
    db.close()


@pytest.fixture(params=[TRAVERSAL, FORGED], ids=["traversal", "forged-annotation"])
def hostile_repo(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str]:
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "shop.yaml").write_text(SHOP)
    _seed_hostile(tmp_path, request.param)
    (tmp_path / "a" / "tmp").mkdir(parents=True)
    (tmp_path / EXPORT_DIR).mkdir(parents=True)
    (tmp_path / "a" / "tmp" / "x.yaml").write_text(PRECIOUS)
    return tmp_path, request.param


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".routes" not in p.parts}


def _assert_refused(repo: Path, name: str, code: int, out: str, err: str) -> None:
    assert code == EXIT_ERROR, out + err
    assert json.dumps(name) in err, err
    assert "local:.routes/state.db" in err
    assert "Hint:" in err and "on the backend" in err
    # No raw newline from a name reaches the log: a forged annotation never starts a line.
    assert not any(line.startswith("::") for line in (out + err).splitlines())
    assert "wrote" not in out
    assert (repo / "a" / "tmp" / "x.yaml").read_text() == PRECIOUS
    assert not list((repo / EXPORT_DIR).iterdir())


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_export_refuses_a_live_route_name_that_is_not_a_file_name(
    hostile_repo: tuple[Path, str], force: list[str]
) -> None:
    repo, name = hostile_repo
    before = _files(repo)
    code, out, err = routes(repo, "export", "--dir", EXPORT_DIR, *force)
    _assert_refused(repo, name, code, out, err)
    assert _files(repo) == before


def test_export_by_name_refuses_a_hostile_name_too(hostile_repo: tuple[Path, str]) -> None:
    repo, name = hostile_repo
    before = _files(repo)
    code, out, err = routes(repo, "export", "--dir", EXPORT_DIR, "--force", name)
    _assert_refused(repo, name, code, out, err)
    assert _files(repo) == before


def test_export_of_the_valid_routes_by_name_still_works(hostile_repo: tuple[Path, str]) -> None:
    repo, _ = hostile_repo
    code, out, err = routes(repo, "export", "--dir", EXPORT_DIR, "shop")
    assert code == 0, out + err
    assert sorted(p.name for p in (repo / EXPORT_DIR).iterdir()) == ["shop.yaml"]


def _memory_backend(*names: str) -> MemoryBackend:
    backend = MemoryBackend("memory:hostile")
    spec = RouteSpec.from_dict(
        {"host": "shop.acme.org", "routes": [{"prefix": "/", "route": {"service": "shop"}}]}
    )
    for name in names:
        backend.create_route(name, spec, {}, {})
    return backend


@pytest.mark.parametrize(
    "name",
    [TRAVERSAL, FORGED, "ABSOLUTE", "..", "", "a" * 64, "Shop", "shop.yaml", "x/y", "\x1b]0;t\a"],
)
@pytest.mark.parametrize("force", [False, True])
def test_export_routes_writes_nothing_when_one_name_is_unsafe(
    tmp_path: Path, name: str, force: bool
) -> None:
    if name == "ABSOLUTE":
        name = str(tmp_path / "tmp" / "abs")
    # Four levels deep, so the traversal lands at tmp_path/tmp/x.yaml, a folder that exists.
    (tmp_path / "tmp").mkdir()
    target = tmp_path / "a" / "b" / "c" / "d"
    backend = _memory_backend("shop", name)
    settings = Settings(root=tmp_path)
    with pytest.raises(RoutesError) as caught:
        export_routes(settings, backend, [], target, "bare", include_unmanaged=True, force=force)
    assert caught.value.exit_code == EXIT_ERROR
    assert "memory:hostile" in caught.value.message
    assert "\n" not in caught.value.message and "\x1b" not in caught.value.message
    assert caught.value.hint and "rename" in caught.value.hint
    assert not (tmp_path / "a").exists()
    assert not list((tmp_path / "tmp").iterdir())


@pytest.mark.parametrize("name", [TRAVERSAL, "/abs/x", "a/../b", "x/y"])
def test_target_refuses_any_path_not_directly_inside_the_dir(tmp_path: Path, name: str) -> None:
    # Defence in depth behind the name rule: the path itself is checked.
    with pytest.raises(RoutesError, match="would be written outside"):
        _target(tmp_path / "out", name, "memory:hostile")


def test_target_keeps_a_symlinked_descriptor_inside_the_dir(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere.yaml").write_text(PRECIOUS)
    (tmp_path / "out" / "shop.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    assert _target(tmp_path / "out", "shop", "memory:") == tmp_path / "out" / "shop.yaml"


def test_export_routes_names_every_unsafe_route_and_says_what_to_do(tmp_path: Path) -> None:
    backend = _memory_backend("shop", TRAVERSAL, FORGED)
    with pytest.raises(RoutesError) as caught:
        export_routes(Settings(root=tmp_path), backend, [], tmp_path / "out", "bare", True, True)
    message, hint = caught.value.message, caught.value.hint or ""
    assert "2 live routes on memory:hostile have names" in message
    assert json.dumps(TRAVERSAL) in message and json.dumps(FORGED) in message
    assert "rename them on the backend" in hint and "routes export NAME" in hint
    assert not (tmp_path / "out").exists()
