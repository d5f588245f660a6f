"""The descriptor cache: a load from it equals a load without it, diagnostics included; a
cache that is corrupt, truncated, foreign or hand-edited is ignored and written anew."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.descriptors.cache import (
    CACHE_FILE,
    DOCUMENT_FIELDS,
    DescriptorCache,
    sign,
    user_secret,
)
from reconciler.descriptors.loader import LoadResult, load_blobs, load_paths
from tests.in_process import plain_environment, run_routes
from tests.strategies import descriptors

SHOP = """\
host: shop.acme.org
routes:
- prefix: /carts
  route: {service: cart}
- prefix: /
  route: {service: storefront}
"""
# Another route on the same host (W102, W101 located at the prefix), a broken one (R-error),
# and a `resource: Route` file with two documents.
SHADOW = """\
host: shop.acme.org
routes:
- prefix: /carts/special
  route: {service: special}
"""
BROKEN = """\
host: "{http.request.host}"
routes:
- prefix: /
  route: {service: x}
"""
PROJECT = """\
resource: Route
resourceVersion: v1
metadata: {name: one}
spec:
  host: one.acme.org
  routes: [{prefix: /, route: {service: one}}]
---
resource: Route
resourceVersion: v1
metadata: {name: two}
spec:
  host: two.acme.org
  routes: [{prefix: /, route: {service: two}}]
"""


def write_tree(root: Path, files: dict[str, str]) -> Path:
    folder = root / "routes"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def facts(result: LoadResult) -> tuple[Any, ...]:
    """What a plan reads of a load: routes with their specs and places, every diagnostic."""
    routes = sorted(
        (name, route.spec, route.source.file, route.source.line, route.source.column)
        for name, route in result.routes.items()
    )
    return tuple(routes), result.diagnostics, result.files, result.digest


def load(folder: Path, cache_dir: Path | None) -> LoadResult:
    cache = DescriptorCache.open(cache_dir) if cache_dir is not None else None
    return load_paths([folder], root=folder.parent, cache=cache)


# Where a cached route document holds its spec, line and broken flag.
AT_SPEC, AT_HOST, AT_LINE, AT_BROKEN = (
    DOCUMENT_FIELDS.index(f) for f in ("spec", "host", "line", "broken")
)
FILES = {"shop.yaml": SHOP, "shadow.yaml": SHADOW, "broken.yaml": BROKEN, "project.yaml": PROJECT}


def test_a_warm_load_equals_a_cold_one_diagnostics_and_all(tmp_path: Path) -> None:
    folder = write_tree(tmp_path, FILES)
    cold = load(folder, None)
    codes = {d.code for d in cold.diagnostics}
    assert {"W101", "W102"} <= codes and any(d.severity == "error" for d in cold.diagnostics)
    first = load(folder, tmp_path / "cache")  # fills the cache
    assert (tmp_path / "cache" / CACHE_FILE).exists()
    warm = load(folder, tmp_path / "cache")
    assert facts(first) == facts(cold) == facts(warm)
    mode = stat.S_IMODE((tmp_path / "cache" / CACHE_FILE).stat().st_mode)
    assert mode & 0o077 == 0


def test_a_renamed_file_is_not_the_same_entry(tmp_path: Path) -> None:
    # A bare descriptor is named after its file: same bytes, other name, other route.
    folder = write_tree(tmp_path, {"shop.yaml": SHOP})
    load(folder, tmp_path / "cache")
    write_tree(tmp_path, {"store.yaml": SHOP})
    warm = load(folder, tmp_path / "cache")
    assert set(warm.routes) == {"store"}
    assert facts(warm) == facts(load(folder, None))


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: raw[:80] + bytes([raw[80] ^ 0x01]) + raw[81:],  # one flipped bit
        lambda raw: b"",
        lambda raw: b"\x00\xff" * 100,
    ],
)
def test_a_damaged_cache_is_ignored_and_written_anew(tmp_path: Path, damage: Any) -> None:
    folder = write_tree(tmp_path, FILES)
    load(folder, tmp_path / "cache")
    path = tmp_path / "cache" / CACHE_FILE
    path.write_bytes(damage(path.read_bytes()))
    assert facts(load(folder, tmp_path / "cache")) == facts(load(folder, None))
    assert DescriptorCache.open(tmp_path / "cache").entries, "the cache was written anew"


def _rewrite(path: Path, edit: Any, secret: bytes | None = None) -> None:
    """A hand edit signed again with this user's key (or ``secret``): what only someone
    holding the key could write."""
    document = json.loads(path.read_bytes().partition(b"\n")[2])
    edit(document)
    body = json.dumps(document, separators=(",", ":"))
    key = secret if secret is not None else user_secret()
    assert key is not None
    path.write_text(sign(key, body.encode()) + "\n" + body)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(rules="0" * 64),  # made by another version or rule set
        lambda d: d.update(format="something-else/9"),
        lambda d: [e[0][0].__setitem__(AT_LINE, "1") for e in d["entries"].values() if e[0]],
        lambda d: [e[0][0].__setitem__(AT_LINE, True) for e in d["entries"].values() if e[0]],
        lambda d: [e[0][0].__setitem__(AT_BROKEN, 0) for e in d["entries"].values() if e[0]],
        lambda d: [e[0][0].__setitem__(AT_SPEC, {}) for e in d["entries"].values() if e[0]],
        lambda d: [e[0][0].pop() for e in d["entries"].values() if e[0]],
        lambda d: [e[1].append({"code": "X999"}) for e in d["entries"].values()],
        lambda d: d.update(entries=[]),
    ],
)
def test_a_foreign_or_ill_typed_cache_is_not_used(tmp_path: Path, edit: Any) -> None:
    folder = write_tree(tmp_path, {"shop.yaml": SHOP, "project.yaml": PROJECT})
    load(folder, tmp_path / "cache")
    _rewrite(tmp_path / "cache" / CACHE_FILE, edit)
    assert facts(load(folder, tmp_path / "cache")) == facts(load(folder, None))


@pytest.mark.parametrize(
    "forge",
    [
        lambda path: _rewrite(path, lambda d: None, secret=b"another user's key " * 3),
        # a plain checksum, as a cache committed to a repository could carry
        lambda path: path.write_bytes(
            hashlib.sha256(path.read_bytes().partition(b"\n")[2]).hexdigest().encode()
            + b"\n"
            + path.read_bytes().partition(b"\n")[2]
        ),
    ],
    ids=["another-key", "checksum-only"],
)
def test_a_cache_not_signed_with_this_users_key_is_not_used(tmp_path: Path, forge: Any) -> None:
    folder = write_tree(tmp_path, {"shop.yaml": SHOP, "project.yaml": PROJECT})
    load(folder, tmp_path / "cache")
    forge(tmp_path / "cache" / CACHE_FILE)
    assert DescriptorCache.open(tmp_path / "cache").entries == {}
    assert facts(load(folder, tmp_path / "cache")) == facts(load(folder, None))
    assert DescriptorCache.open(tmp_path / "cache").entries, "the cache was written anew"


def test_without_a_key_nothing_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    assert user_secret() is None
    folder = write_tree(tmp_path, {"shop.yaml": SHOP})
    assert facts(load(folder, tmp_path / "cache")) == facts(load(folder, None))
    assert not (tmp_path / "cache").exists()


def test_the_key_is_made_once_private_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = user_secret()
    key_file = tmp_path / "xdg" / "routes" / "descriptor-cache.key"
    assert first is not None and user_secret() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]


def test_blobs_from_git_use_the_cache_too(tmp_path: Path) -> None:
    blobs = [("routes/shop.yaml", SHOP.encode()), ("routes/project.yaml", PROJECT.encode())]
    cold = load_blobs(blobs)
    load_blobs(blobs, cache=DescriptorCache.open(tmp_path))
    cache = DescriptorCache.open(tmp_path)
    assert len(cache.entries) == 2
    assert facts(load_blobs(blobs, cache=cache)) == facts(cold)


# -- from the command line ------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    plain_environment(monkeypatch)
    monkeypatch.delenv("ROUTES_NO_CACHE", raising=False)
    (tmp_path / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/shop\n")
    write_tree(tmp_path, FILES | {"broken.yaml": SHOP.replace("shop.", "broken.")})
    return tmp_path


def test_a_fresh_checkout_gets_no_cache_and_an_applied_one_does(repo: Path) -> None:
    code, _ = run_routes(repo, "plan")
    assert code == 0 and not (repo / ".routes").exists()
    assert run_routes(repo, "apply", "--auto-approve")[0] == 0  # makes .routes/
    assert run_routes(repo, "plan")[0] == 0
    assert (repo / ".routes" / "cache" / CACHE_FILE).exists()
    (repo / "routes" / "shop.yaml").write_text(SHOP.replace("storefront", "storefront-v2"))
    _, warm = run_routes(repo, "plan")
    _, uncached = run_routes(repo, "--no-cache", "plan")
    assert warm == uncached and "storefront-v2" in warm


def test_no_cache_and_the_environment_switch_leave_the_cache_alone(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / ".routes").mkdir()
    assert run_routes(repo, "--no-cache", "plan")[0] == 0
    assert not (repo / ".routes" / "cache").exists()
    monkeypatch.setenv("ROUTES_NO_CACHE", "1")
    assert run_routes(repo, "plan")[0] == 0
    assert not (repo / ".routes" / "cache").exists()
    monkeypatch.setenv("ROUTES_NO_CACHE", "0")
    assert run_routes(repo, "plan")[0] == 0
    assert (repo / ".routes" / "cache").exists()


def _edit_cached_documents(repo: Path, edit: Any) -> None:
    """Rewrite every cached route document with ``edit`` and sign the cache again with
    this user's key: what only the key's holder could write."""

    def every_document(document: dict[str, Any]) -> None:
        for entry in document["entries"].values():
            for doc in entry[0]:
                edit(doc)

    _rewrite(repo / ".routes" / "cache" / CACHE_FILE, every_document)


def test_a_cached_spec_that_is_not_canonical_stops_the_plan_and_says_how_to_go_on(
    repo: Path,
) -> None:
    (repo / ".routes").mkdir()
    assert run_routes(repo, "plan")[0] == 0  # writes the cache
    _edit_cached_documents(
        repo, lambda doc: doc.__setitem__(AT_SPEC, doc[AT_SPEC].replace('"routes":', '"routes" :'))
    )
    code, out = run_routes(repo, "plan")
    assert code == 1 and "Traceback" not in out
    assert "not what that text says" in out and "--no-cache" in out
    code, out = run_routes(repo, "--no-cache", "plan")
    assert code == 0 and "to add" in out
    assert run_routes(repo, "plan")[0] == 1  # --no-cache leaves the cache as it is
    shutil.rmtree(repo / ".routes" / "cache")
    assert run_routes(repo, "plan") == (0, out)


def _canonical(text: str, **changes: Any) -> str:
    spec = json.loads(text) | changes
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_a_cached_spec_routes_refuses_is_never_written(repo: Path) -> None:
    # Even signed with this user's key, a cached spec a plan would write is checked again.
    (repo / ".routes").mkdir()
    assert run_routes(repo, "plan")[0] == 0  # writes the cache

    def refused(doc: list[Any]) -> None:
        doc[AT_SPEC] = _canonical(doc[AT_SPEC], host="{http.request.host}")
        doc[AT_HOST] = "{http.request.host}"

    _edit_cached_documents(repo, refused)
    for command in (("plan",), ("apply", "--auto-approve")):
        code, out = run_routes(repo, *command)
        assert code == 1 and "refuses" in out and "R026" in out and "Traceback" not in out
    if (repo / ".routes" / "state.db").exists():
        with sqlite3.connect(repo / ".routes" / "state.db") as db:
            assert db.execute("SELECT count(*) FROM routes").fetchone() == (0,), "written"


def test_a_cached_host_that_is_not_the_texts_stops_the_plan(repo: Path) -> None:
    assert run_routes(repo, "apply", "--auto-approve")[0] == 0
    assert run_routes(repo, "plan")[0] == 0  # writes the cache
    _edit_cached_documents(repo, lambda doc: doc.__setitem__(AT_HOST, "zzz.example.org"))
    code, out = run_routes(repo, "plan")
    assert code == 1 and "not what that text says" in out


def test_a_file_name_that_is_not_unicode_is_reported_with_the_cache_on(repo: Path) -> None:
    (repo / ".routes").mkdir()
    (repo / "routes" / os.fsdecode(b"caf\xe9.yaml")).write_text(SHOP.replace("shop.", "cafe."))
    code, warm = run_routes(repo, "plan")
    assert "internal error" not in warm and "R009" in warm
    assert (code, warm) == run_routes(repo, "--no-cache", "plan")


# -- property: for random trees and random edits, cached equals uncached ---------------------

file_names = st.sampled_from(["a.yaml", "b.yaml", "c.yaml", "shop.yaml", "api.yaml"])
contents = st.one_of(
    descriptors().map(lambda d: yaml.safe_dump(d, sort_keys=False)),
    st.sampled_from([SHOP, SHADOW, BROKEN, PROJECT, "", "- a list\n", "host: [\n"]),
)
trees = st.dictionaries(file_names, contents, max_size=4)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=st.lists(trees, min_size=2, max_size=4))
def test_cached_loads_equal_uncached_loads_across_edits(
    tmp_path_factory: pytest.TempPathFactory, runs: list[dict[str, str]]
) -> None:
    root = tmp_path_factory.mktemp("tree")
    for files in runs:  # each run edits the tree: files added, changed, renamed, removed
        folder = write_tree(root, files)
        assert facts(load(folder, root / "cache")) == facts(load(folder, None))
