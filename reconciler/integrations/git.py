"""Git as a source of descriptors: repo facts for the plan, trees at a ref, changed files.

Everything reads the object store or runs read-only git commands; nothing checks out,
stages or writes. GitPython and git failures become ``GitError`` with advice.

How ``routes plan --changed-since BASE`` is meant to use this module (O(changed), not O(all)):

1. ``change = changed_since(root, BASE, paths)`` lists the descriptor files that differ
   between ``merge-base(BASE, HEAD)`` and the working tree (renames = deleted + changed).
2. ``loaded = load_paths(change.changed, root=root)`` loads only the changed files as they
   are now; their routes are the desired side.
3. ``before = routes_defined_at(root, change.merge_base, change.changed + change.deleted)``
   names the routes those files defined at the merge base, so a route that was removed
   from a changed file, or lived in a deleted file, is still a target.
4. ``targets = set(loaded.routes) | before``; ``commands.planning.plan_against_backend``
   reads only those from the backend (``backend.get_routes(targets)``) and plans them. Targets
   that are gone from the descriptors become deletes only with ``--prune``; the planner decides.

``routes plan --ref REF`` instead loads ``load_blobs(read_blobs_at(root, REF, paths))``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import git
from gitdb.exc import BadName, BadObject

from reconciler.descriptors.loader import load_blobs
from reconciler.errors import RoutesError

DESCRIPTOR_SUFFIXES = (".yaml", ".yml")
_SYMLINK_MODE = 0o120000
_MAX_LINK_HOPS = 8


class GitError(RoutesError):
    """Git could not answer: not a repository, an unknown ref, a missing path."""


@dataclass(frozen=True)
class GitInfo:
    """Facts about the repository a plan was made from."""

    root: Path
    commit: str | None
    dirty: bool
    branch: str | None
    remote_slug: str | None

    def to_plan_dict(self) -> dict[str, Any]:
        """The plan's ``source.git`` object."""
        return {"commit": self.commit, "dirty": self.dirty, "branch": self.branch}


@dataclass(frozen=True)
class ChangeSet:
    """Descriptor files that differ between the merge base and the working tree."""

    changed: tuple[str, ...]
    deleted: tuple[str, ...]
    merge_base: str


def git_info(path: Path) -> GitInfo | None:
    """Describe the repository containing ``path``; None outside a git repository."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repo:
        if repo.working_tree_dir is None:
            return None
        try:
            commit: str | None = repo.head.commit.hexsha
        except ValueError:  # a fresh repository without commits
            commit = None
        try:
            branch: str | None = repo.active_branch.name
        except TypeError:  # detached HEAD, as in CI checkouts of a pull request
            branch = None
        try:
            dirty = repo.is_dirty(untracked_files=True)
            url = repo.remote("origin").url if "origin" in repo.remotes else None
        except git.GitCommandError as exc:
            raise _command_error(exc, Path(repo.working_tree_dir)) from exc
        return GitInfo(
            root=Path(repo.working_tree_dir),
            commit=commit,
            dirty=dirty,
            branch=branch,
            remote_slug=parse_remote_slug(url) if url else None,
        )


_REMOTE_PATTERNS = (
    # scheme://[user[:password]@]host[:port]/…/owner/repo[.git][/]
    re.compile(
        r"^[a-z][a-z0-9+.-]*://[^/]+/(?:.*/)?(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$"
    ),
    # scp-like ssh: [user@]host:[…/]owner/repo[.git]
    re.compile(r"^(?:[^@/]+@)?[^:/]+:(?:.*/)?(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$"),
)


def parse_remote_slug(url: str) -> str | None:
    """``owner/repo`` from an https, ssh or scp-like remote URL; None if it has no such form."""
    for pattern in _REMOTE_PATTERNS:
        match = pattern.match(url.strip())
        if match:
            return f"{match['owner']}/{match['repo']}"
    return None


def read_blobs_at(root: Path, ref: str, paths: Sequence[str]) -> list[tuple[str, bytes]]:
    """Descriptor files under repo-relative ``paths`` in the tree at ``ref``, without checkout."""
    with _open_repo(root) as repo:
        tree = _commit(repo, ref).tree
        found: dict[str, bytes] = {}
        for raw in paths:
            rel = _repo_relative(raw)
            if rel == ".":
                items: Iterable[tuple[str, git.Blob]] = _walk(tree, tree, "", 0)
            else:
                item = _lookup(tree, rel, ref)
                items = _expand(tree, item, rel, 0, explicit=True)
            for display, blob in items:
                found.setdefault(display, blob.data_stream.read())
        return sorted(found.items())


def changed_since(root: Path, base: str, paths: Sequence[str]) -> ChangeSet:
    """Descriptor files changed from merge-base(base, HEAD) to the working tree, in ``paths``."""
    scopes = [_repo_relative(p) for p in paths]
    with _open_repo(root) as repo:
        base_commit = _commit(repo, base)
        head = _commit(repo, "HEAD")
        bases = repo.merge_base(base_commit, head)
        if not bases:
            raise GitError(
                f"{base} and HEAD have no common ancestor",
                hint="compare against a branch this one was created from",
            )
        merge_base = str(bases[0].hexsha)
        try:
            # --no-renames: a rename must plan the old route names for deletion too.
            diff = repo.git.diff("--name-status", "-z", "--no-renames", merge_base, "--")
            untracked = repo.git.ls_files("--others", "--exclude-standard", "-z")
        except git.GitCommandError as exc:
            raise _command_error(exc, root) from exc
    changed: set[str] = set()
    deleted: set[str] = set()
    fields = diff.split("\0")
    for status, name in zip(fields[0::2], fields[1::2], strict=False):
        (deleted if status.startswith("D") else changed).add(name)
    changed.update(name for name in untracked.split("\0") if name)
    deleted -= changed  # `git rm --cached` leaves the file in the working tree
    return ChangeSet(
        changed=tuple(sorted(f for f in changed if _in_scope(f, scopes))),
        deleted=tuple(sorted(f for f in deleted if _in_scope(f, scopes))),
        merge_base=merge_base,
    )


def routes_defined_at(root: Path, commit: str, files: Iterable[str]) -> set[str]:
    """Names of the routes that ``files`` defined at ``commit``; files absent there add none."""
    rels = sorted({_repo_relative(name) for name in files})
    blobs: list[tuple[str, bytes]] = []
    with _open_repo(root) as repo:
        target = _commit(repo, commit)
        linked: list[str] = []
        # One `ls-tree` per 500 paths: GitPython's `tree / path` re-parses every tree it
        # passes through, which costs O(files in the folder) per changed file.
        for start in range(0, len(rels), 500):
            chunk = rels[start : start + 500]
            try:
                listing = repo.git.ls_tree("-z", "-r", target.hexsha, "--", *chunk)
            except git.GitCommandError as exc:
                raise _command_error(exc, root) from exc
            for entry in filter(None, listing.split("\0")):
                meta, path = entry.split("\t", 1)
                mode, kind, sha = meta.split()
                if kind != "blob":
                    continue
                if mode == oct(_SYMLINK_MODE)[2:]:
                    linked.append(path)
                elif path in chunk or path.endswith(DESCRIPTOR_SUFFIXES):
                    blobs.append((path, repo.odb.stream(bytes.fromhex(sha)).read()))
        for rel in linked:
            tree = target.tree
            blobs.extend(
                (display, blob.data_stream.read())
                for display, blob in _expand(tree, tree / rel, rel, 0, explicit=True)
            )
    return set(load_blobs(blobs).routes)


def newest_commit(root: Path, commits: Iterable[str]) -> str | None:
    """The newest of ``commits`` (one no other of them descends from) that this clone has;
    None when it has none of them (a shallow clone, or commits never pushed)."""
    shas = sorted({c for c in commits if re.fullmatch(r"[0-9a-f]{7,40}", c)})
    if not shas:
        return None
    with _open_repo(root) as repo:
        try:
            # --ignore-missing skips commits the clone lacks; --topo-order lists every child
            # before its parents, so the first commit listed descends from no other given one.
            out = repo.git.rev_list("--ignore-missing", "--topo-order", "-n", "1", *shas)
        except git.GitCommandError as exc:
            raise _command_error(exc, root) from exc
    newest = out.split()
    return newest[0] if newest else None


def routes_described_at(root: Path, commit: str, paths: Sequence[str]) -> set[str]:
    """Names of the routes the descriptor ``paths`` (repo-relative) held at ``commit``; a path
    that did not exist there holds none."""
    blobs: list[tuple[str, bytes]] = []
    for path in paths:
        try:
            blobs += read_blobs_at(root, commit, [path])
        except GitError:
            continue
    return set(load_blobs(blobs).routes)


def _open_repo(root: Path) -> git.Repo:
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise GitError(
            f"not a git repository: {root}",
            hint="run inside your descriptor repo or drop --ref / --changed-since",
        ) from exc


def _commit(repo: git.Repo, ref: str) -> git.Commit:
    try:
        return repo.commit(ref)
    except (BadName, BadObject, ValueError, git.GitCommandError) as exc:
        shallow = Path(repo.git_dir, "shallow").exists()
        hint = (
            "this is a shallow clone: fetch more history (actions/checkout with fetch-depth: 0)"
            if shallow
            else f"check the name with `git rev-parse {ref}`, or `git fetch` it first"
        )
        raise GitError(f"unknown git ref {ref!r}", hint=hint) from exc


def _command_error(exc: git.GitCommandError, root: Path) -> GitError:
    stderr = str(exc.stderr or "").strip().removeprefix("stderr:").strip(" '\n")
    return GitError(
        f"git failed in {root}: {stderr or exc}",
        hint="run the same git command yourself to see what git needs",
    )


def _repo_relative(raw: str) -> str:
    path = PurePosixPath(raw.replace("\\", "/"))
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                raise GitError(
                    f"path {raw!r} leaves the repository",
                    hint="give descriptor paths relative to the repository root",
                )
            parts.pop()
        elif part not in (".", "/"):
            parts.append(part)
    if path.is_absolute():
        raise GitError(
            f"path {raw!r} is absolute",
            hint="give descriptor paths relative to the repository root",
        )
    return "/".join(parts) or "."


def _in_scope(name: str, scopes: Sequence[str]) -> bool:
    if not name.endswith(DESCRIPTOR_SUFFIXES):
        return False
    return any(s == "." or name == s or name.startswith(s + "/") for s in scopes)


def _lookup(tree: git.Tree, rel: str, ref: str) -> git.Blob | git.Tree:
    try:
        item = tree / rel
    except KeyError as exc:
        raise GitError(
            f"{rel} does not exist at git ref {ref!r}",
            hint="check the descriptor path, or pick a ref that has it",
        ) from exc
    if not isinstance(item, git.Blob | git.Tree):
        raise GitError(f"{rel} at {ref!r} is a submodule, not descriptor files")
    return item


def _expand(
    top: git.Tree, item: Any, display: str, hops: int, *, explicit: bool
) -> Iterator[tuple[str, git.Blob]]:
    """Blobs for one tree entry, shown under ``display`` even when reached through a link."""
    if isinstance(item, git.Tree):
        yield from _walk(top, item, display, hops)
    elif isinstance(item, git.Blob) and item.mode == _SYMLINK_MODE:
        yield from _expand(
            top, _follow(top, item, display, hops), display, hops + 1, explicit=explicit
        )
    elif isinstance(item, git.Blob) and (explicit or display.endswith(DESCRIPTOR_SUFFIXES)):
        yield display, item


def _walk(top: git.Tree, tree: git.Tree, display: str, hops: int) -> Iterator[tuple[str, git.Blob]]:
    for entry in tree:
        child = f"{display}/{entry.name}" if display else entry.name
        yield from _expand(top, entry, child, hops, explicit=False)


def _follow(top: git.Tree, link: git.Blob, display: str, hops: int) -> Any:
    target = link.data_stream.read().decode("utf-8", "replace")
    joined = str(PurePosixPath(link.path).parent / target)
    if hops >= _MAX_LINK_HOPS or target.startswith("/"):
        raise GitError(f"{display} is a symlink that leaves the repository ({target})")
    try:
        resolved = _repo_relative(joined)
        return top / resolved
    except (GitError, KeyError) as exc:
        raise GitError(
            f"{display} is a symlink to {target}, which is not in the repository",
            hint="commit the file itself instead of a link outside the repository",
        ) from exc
