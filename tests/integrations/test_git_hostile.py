"""Git input is hostile: refs, file names, trees and the repository's own config.

Each test is a real repository made with `git init`; what is asserted is what a user sees:
the plan, the error, or that nothing the repository names was run.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from reconciler.errors import UsageError
from reconciler.integrations.git import (
    GitError,
    changed_since,
    git_info,
    read_blobs_at,
    routes_before,
    routes_defined_at,
)
from tests.in_process import plain_environment, run_routes
from tests.integrations.test_git import _bare, _commit, _git, _project


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    plain_environment(monkeypatch)
    root = tmp_path / "gitops"
    (root / "routes").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Test")
    _git(root, "config", "user.email", "test@example.org")
    _git(root, "config", "commit.gpgsign", "false")
    (root / ".routes.yaml").write_text("descriptors: [routes]\nowner: acme/gitops\n")
    (root / "routes" / "shop.yaml").write_text(_bare("shop.acme.org"))
    _commit(root, "initial routes")
    return root


@pytest.mark.parametrize("ref", ["--output=/tmp/owned", "-p", "--all"])
def test_a_ref_that_reads_as_an_option_is_refused(repo: Path, ref: str) -> None:
    with pytest.raises(UsageError, match="starts with '-'"):
        read_blobs_at(repo, ref, ["routes"])
    with pytest.raises(UsageError, match="starts with '-'"):
        changed_since(repo, ref, ["routes"])
    code, out = run_routes(repo, "plan", f"--ref={ref}")
    assert code == 64 and "starts with '-'" in out
    assert not Path("/tmp/owned").exists() or ref != "--output=/tmp/owned"


def test_a_ref_that_names_no_commit_is_an_unknown_ref(repo: Path) -> None:
    tree = _git(repo, "rev-parse", "HEAD^{tree}")
    for ref in (tree, "HEAD:routes", "main\nHEAD", "main..HEAD"):
        with pytest.raises(GitError, match="unknown git ref"):
            read_blobs_at(repo, ref, ["routes"])


def _hook(path: Path, marker: Path) -> str:
    path.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_the_repository_config_runs_nothing(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    program = _hook(tmp_path / "evil.sh", marker)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("post-index-change", "post-checkout", "reference-transaction"):
        _hook(hooks / name, marker)
    for key, value in [
        ("core.fsmonitor", program),
        ("core.hooksPath", str(hooks)),
        ("diff.external", program),
        ("alias.status", f"!{program}"),
        ("core.pager", program),
    ]:
        _git(repo, "config", key, value)
    (repo / "routes" / "shop.yaml").write_text(_bare("shop.acme.org", "v2"))
    (repo / "routes" / "new.yaml").write_text(_bare("new.acme.org"))

    info = git_info(repo)
    change = changed_since(repo, "HEAD", ["routes"])
    blobs = read_blobs_at(repo, "HEAD", ["routes"])
    code, out = run_routes(repo, "plan", "--changed-since", "HEAD")

    assert info is not None and info.dirty
    assert change.changed == ("routes/new.yaml", "routes/shop.yaml")
    assert [name for name, _ in blobs] == ["routes/shop.yaml"]
    assert code == 0 and "2 to add" in out
    assert not marker.exists(), "git ran a program the repository's config names"


def test_file_names_with_newlines_quotes_and_stray_bytes_are_read_as_named(repo: Path) -> None:
    names = ["new\nline.yaml", 'quo"te.yaml', "tab\t.yml", "*.yaml", ":(top)magic.yaml"]
    for index, name in enumerate(names):
        (repo / "routes" / name).write_text(_bare(f"h{index}.acme.org"))
    stray = os.fsdecode(b"caf\xe9.yaml")  # Latin-1, not UTF-8
    (repo / "routes" / stray).write_text(_project("stray"))
    base = _commit(repo, "awkward names")
    for name in names:
        (repo / "routes" / name).write_text(_bare("changed.acme.org"))
    (repo / "routes" / "*.yaml").write_text(_bare("h3.acme.org"))  # back as committed

    change = changed_since(repo, base, ["routes"])
    # `*.yaml` is one file, not a pattern: it is unchanged, and matches nothing else.
    assert set(change.changed) == {f"routes/{n}" for n in names if n != "*.yaml"}
    assert dict(read_blobs_at(repo, base, ["routes"])).keys() == {
        *(f"routes/{n}" for n in names),
        f"routes/{stray}",
        "routes/shop.yaml",
    }
    defined = routes_defined_at(repo, base, [f"routes/{stray}", "routes/new\nline.yaml"])
    assert defined == {"stray"}


def test_a_plan_from_a_ref_with_a_non_utf8_file_name_names_it(repo: Path) -> None:
    (repo / "routes" / os.fsdecode(b"caf\xe9.yaml")).write_text("host: [unclosed\n")
    _commit(repo, "broken, badly named")
    code, out = run_routes(repo, "plan", "--ref", "HEAD")
    assert code == 1
    assert "caf" in out and "nothing was planned" in out


def test_submodules_inside_a_folder_are_skipped_and_refused_when_named(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    _git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},routes/vendored.yaml")
    _git(repo, "commit", "-q", "-m", "a submodule among descriptors")

    assert [name for name, _ in read_blobs_at(repo, "HEAD", ["routes"])] == ["routes/shop.yaml"]
    with pytest.raises(GitError, match="is a submodule"):
        read_blobs_at(repo, "HEAD", ["routes/vendored.yaml"])


def test_symlinks_reading_outside_the_tree_or_in_circles_are_refused(repo: Path) -> None:
    os.symlink("/etc/passwd", repo / "routes" / "passwd.yaml")
    _commit(repo, "absolute link")
    with pytest.raises(GitError, match=r"passwd\.yaml is a symlink that leaves the repository"):
        read_blobs_at(repo, "HEAD", ["routes"])
    (repo / "routes" / "passwd.yaml").unlink()
    os.symlink(".", repo / "routes" / "loop")
    _commit(repo, "a folder linking to itself")
    with pytest.raises(GitError, match="is a symlink"):
        read_blobs_at(repo, "HEAD", ["routes"])


def test_a_change_reverted_in_the_working_tree_is_no_change(repo: Path) -> None:
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "routes" / "shop.yaml").write_text(_bare("shop.acme.org", "v2"))
    _commit(repo, "v2")
    (repo / "routes" / "shop.yaml").write_text(_bare("shop.acme.org"))  # as at the base

    change = changed_since(repo, base, ["routes"])
    assert change.changed == () and change.deleted == ()


def test_without_git_a_plan_still_works_and_git_flags_say_why_not(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(repo / "no-programs-here"))
    assert git_info(repo) is None
    assert run_routes(repo, "plan")[0] == 0
    code, out = run_routes(repo, "plan", "--changed-since", "main")
    assert code == 64 and "git, and it is not installed" in out


def test_a_plan_made_from_another_repository_records_the_descriptors_one(
    repo: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _git(elsewhere, "init", "-q", "-b", "other")
    (repo / "routes" / "shop.yaml").write_text(_bare("shop.acme.org", "v2"))
    config = str(repo / ".routes.yaml")
    code, out = run_routes(elsewhere, "--config", config, "plan", "--format", "json")
    assert code == 0, out
    source = json.loads(out)["source"]
    assert source["git"] == {
        "commit": _git(repo, "rev-parse", "HEAD"),
        "dirty": True,
        "branch": "main",
    }


def test_routes_before_a_change_read_links_at_the_base_as_links(repo: Path) -> None:
    os.symlink("shop.yaml", repo / "routes" / "alias.yaml")
    base = _commit(repo, "an alias")
    (repo / "routes" / "alias.yaml").unlink()
    (repo / "routes" / "alias.yaml").write_text(_bare("alias.acme.org"))  # a file now
    (repo / "routes" / "shop.yaml").write_text(_bare("shop.acme.org", "v2"))

    change = changed_since(repo, base, ["routes"])
    assert change.changed == ("routes/alias.yaml", "routes/shop.yaml")
    expected = routes_defined_at(repo, base, change.changed)
    assert routes_before(repo, change) == expected == {"alias", "shop"}
