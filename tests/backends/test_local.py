"""The local backend (``local`` / ``local:PATH``): where its store lives, and that reads
create nothing on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.backends.local import open_local
from reconciler.backends.options import LocalOptions
from reconciler.errors import NotFoundError
from tests.backends.contract import ANNOTATIONS, LABELS, simple_spec

# -- files --------------------------------------------------------------------------------


def test_reads_create_nothing_until_the_first_write(tmp_path: Path) -> None:
    folder = tmp_path / ".routes"
    backend = open_local("local", LocalOptions(tmp_path))
    assert backend.list_routes() == []
    assert backend.get_route("shop") is None
    assert backend.get_routes(["shop"]) == {}
    assert backend.store.list_hostnames() == []
    assert backend.store.hostname_mode() == "any"
    assert backend.store.list_page(10, None) == ([], None)
    with pytest.raises(NotFoundError):
        backend.delete_route("shop", None)
    with pytest.raises(NotFoundError):
        backend.replace_route("shop", simple_spec(), LABELS, ANNOTATIONS, "3")
    with pytest.raises(NotFoundError):
        backend.store.remove_hostname("shop.example.com")
    assert not folder.exists()

    backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    assert (folder / "state.db").is_file()
    backend.close()


def test_open_local_resolves_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = LocalOptions(tmp_path)
    assert open_local("local", settings).store.path == tmp_path / ".routes" / "state.db"
    assert open_local("local:", settings).store.path == tmp_path / ".routes" / "state.db"
    assert open_local("local:db/x.db", settings).store.path == tmp_path / "db" / "x.db"
    absolute = tmp_path / "elsewhere" / "y.db"
    assert open_local(f"local:{absolute}", settings).store.path == absolute
    monkeypatch.chdir(tmp_path)
    assert open_local("local:z.db", None).store.path == Path.cwd() / "z.db"
