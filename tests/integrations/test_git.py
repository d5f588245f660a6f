"""reconciler.integrations.git against real repositories made with `git init` in tmp dirs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.integrations.git import (
    ChangeSet,
    GitError,
    changed_since,
    git_info,
    parse_remote_slug,
    read_blobs_at,
    routes_defined_at,
)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _bare(host: str, service: str = "svc") -> str:
    return f"host: {host}\nroutes:\n- prefix: /\n  route: {{service: {service}}}\n"


def _project(*names: str) -> str:
    return "---\n".join(
        f"resource: Route\nresourceVersion: v1\nmetadata: {{name: {n}}}\n"
        f"spec:\n  host: {n}.acme.org\n  routes:\n  - prefix: /\n    route: {{service: s}}\n"
        for n in names
    )


def _write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Test")
    _git(root, "config", "user.email", "test@example.org")
    _git(root, "config", "commit.gpgsign", "false")
    _write(root, "routes/shop.yaml", _bare("shop.acme.org"))
    _write(root, "routes/blog.yml", _bare("blog.acme.org"))
    _write(root, "README.md", "not a descriptor\n")
    _commit(root, "initial routes")
    return root


def test_git_info_outside_a_repository_is_none(tmp_path: Path) -> None:
    assert git_info(tmp_path) is None


def test_git_info_reports_commit_branch_and_clean_tree(repo: Path) -> None:
    info = git_info(repo / "routes")
    assert info is not None
    assert info.root == repo
    assert info.commit == _git(repo, "rev-parse", "HEAD")
    assert info.branch == "main"
    assert info.dirty is False
    assert info.remote_slug is None
    assert info.to_plan_dict() == {"commit": info.commit, "dirty": False, "branch": "main"}


def test_untracked_file_makes_the_tree_dirty(repo: Path) -> None:
    _write(repo, "routes/new.yaml", _bare("new.acme.org"))
    info = git_info(repo)
    assert info is not None and info.dirty is True


def test_detached_head_has_no_branch(repo: Path) -> None:
    _git(repo, "checkout", "-q", "--detach")
    info = git_info(repo)
    assert info is not None and info.branch is None and info.commit is not None


def test_git_info_reads_the_origin_slug(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "git@github.com:acme/gitops.git")
    info = git_info(repo)
    assert info is not None and info.remote_slug == "acme/gitops"


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("https://github.com/acme/gitops.git", "acme/gitops"),
        ("https://github.com/acme/gitops", "acme/gitops"),
        ("https://x-access-token:secret@github.com/acme/gitops.git", "acme/gitops"),
        ("git@github.com:acme/gitops.git", "acme/gitops"),
        ("ssh://git@github.com/acme/gitops.git", "acme/gitops"),
        ("ssh://git@ghe.example.org:2222/acme/gitops.git", "acme/gitops"),
        ("git@ghe.example.org:team/acme/gitops", "acme/gitops"),
        ("https://github.com/acme/gitops/", "acme/gitops"),
        ("/srv/git/gitops.git", None),
        ("gitops", None),
    ],
)
def test_parse_remote_slug(url: str, slug: str | None) -> None:
    assert parse_remote_slug(url) == slug


def test_read_blobs_at_an_older_commit_ignores_the_working_tree(repo: Path) -> None:
    first = _git(repo, "rev-parse", "HEAD")
    _write(repo, "routes/shop.yaml", _bare("shop.acme.org", "shop-v2"))
    _write(repo, "routes/extra/cart.yaml", _bare("cart.acme.org"))
    _commit(repo, "second")
    _write(repo, "routes/shop.yaml", _bare("uncommitted.acme.org"))

    old = dict(read_blobs_at(repo, first, ["routes"]))
    assert sorted(old) == ["routes/blog.yml", "routes/shop.yaml"]
    assert b"service: svc" in old["routes/shop.yaml"]

    now = dict(read_blobs_at(repo, "HEAD", ["routes", "README.md"]))
    assert sorted(now) == [
        "README.md",
        "routes/blog.yml",
        "routes/extra/cart.yaml",
        "routes/shop.yaml",
    ]
    assert b"shop-v2" in now["routes/shop.yaml"]
    assert dict(read_blobs_at(repo, "HEAD", ["."])).keys() == {
        "routes/blog.yml",
        "routes/extra/cart.yaml",
        "routes/shop.yaml",
    }


def test_read_blobs_at_an_unknown_ref_names_the_ref(repo: Path) -> None:
    with pytest.raises(GitError, match="unknown git ref 'no-such-branch'") as err:
        read_blobs_at(repo, "no-such-branch", ["routes"])
    assert err.value.hint


def test_read_blobs_at_a_missing_path_names_path_and_ref(repo: Path) -> None:
    with pytest.raises(GitError, match="descriptors does not exist at git ref 'main'"):
        read_blobs_at(repo, "main", ["descriptors"])


def test_read_blobs_refuses_paths_leaving_the_repository(repo: Path) -> None:
    with pytest.raises(GitError, match="leaves the repository"):
        read_blobs_at(repo, "HEAD", ["../elsewhere"])


def test_symlinks_are_followed_inside_the_tree_and_refused_outside(repo: Path) -> None:
    (repo / "routes" / "alias.yaml").symlink_to("shop.yaml")
    _commit(repo, "link inside")
    blobs = dict(read_blobs_at(repo, "HEAD", ["routes"]))
    assert blobs["routes/alias.yaml"] == blobs["routes/shop.yaml"]

    (repo / "routes" / "escape.yaml").symlink_to("../../outside.yaml")
    _commit(repo, "link outside")
    with pytest.raises(GitError, match=r"escape\.yaml is a symlink"):
        read_blobs_at(repo, "HEAD", ["routes"])


def test_outside_a_repository_the_error_gives_advice(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository") as err:
        read_blobs_at(tmp_path, "HEAD", ["routes"])
    assert err.value.hint is not None and "--ref" in err.value.hint


def test_changed_since_counts_committed_staged_unstaged_and_untracked(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "feature")
    _write(repo, "routes/committed.yaml", _bare("c.acme.org"))
    _commit(repo, "committed")
    _write(repo, "routes/staged.yaml", _bare("s.acme.org"))
    _git(repo, "add", "routes/staged.yaml")
    _write(repo, "routes/shop.yaml", _bare("shop.acme.org", "unstaged"))
    _write(repo, "routes/untracked.yml", _bare("u.acme.org"))
    _write(repo, "routes/notes.txt", "not a descriptor")
    _write(repo, "other/outside.yaml", _bare("o.acme.org"))

    change = changed_since(repo, "main", ["routes"])
    assert change == ChangeSet(
        changed=(
            "routes/committed.yaml",
            "routes/shop.yaml",
            "routes/staged.yaml",
            "routes/untracked.yml",
        ),
        deleted=(),
        merge_base=_git(repo, "rev-parse", "main"),
    )


def test_renames_are_a_delete_and_a_change_and_deletes_are_listed(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "feature")
    _git(repo, "mv", "routes/shop.yaml", "routes/store.yaml")
    _commit(repo, "rename")
    (repo / "routes" / "blog.yml").unlink()

    change = changed_since(repo, "main", ["routes"])
    assert change.changed == ("routes/store.yaml",)
    assert change.deleted == ("routes/blog.yml", "routes/shop.yaml")


def test_merge_base_is_used_when_main_moved_on(repo: Path) -> None:
    fork = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "-b", "feature")
    _write(repo, "routes/mine.yaml", _bare("mine.acme.org"))
    _commit(repo, "feature work")
    _git(repo, "checkout", "-q", "main")
    _write(repo, "routes/theirs.yaml", _bare("theirs.acme.org"))
    (repo / "routes" / "blog.yml").unlink()
    _commit(repo, "main moved on")
    _git(repo, "checkout", "-q", "feature")

    change = changed_since(repo, "main", ["routes"])
    # main's own changes are not this branch's: no theirs.yaml, no deletion of blog.yml.
    assert change.changed == ("routes/mine.yaml",)
    assert change.deleted == ()
    assert change.merge_base == fork

    _git(repo, "merge", "-q", "--no-edit", "main")
    after_merge = changed_since(repo, "main", ["routes"])
    assert after_merge.changed == ("routes/mine.yaml",)
    assert after_merge.merge_base == _git(repo, "rev-parse", "main")


def test_changed_since_an_unknown_base_names_it(repo: Path) -> None:
    with pytest.raises(GitError, match="unknown git ref 'origin/main'"):
        changed_since(repo, "origin/main", ["routes"])


def test_routes_defined_at_names_routes_of_old_and_deleted_files(repo: Path) -> None:
    _write(repo, "routes/project.yaml", _project("alpha", "beta"))
    base = _commit(repo, "project descriptors")
    _write(repo, "routes/project.yaml", _project("alpha"))
    (repo / "routes" / "shop.yaml").unlink()
    _write(repo, "routes/fresh.yaml", _bare("fresh.acme.org"))

    change = changed_since(repo, base, ["routes"])
    assert change.changed == ("routes/fresh.yaml", "routes/project.yaml")
    assert change.deleted == ("routes/shop.yaml",)
    before = routes_defined_at(repo, change.merge_base, change.changed + change.deleted)
    # beta was removed from a changed file and shop lived in a deleted one: both are targets.
    assert before == {"alpha", "beta", "shop"}
