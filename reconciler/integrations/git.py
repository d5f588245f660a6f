"""Git as a source of descriptors: repo facts for the plan, trees at a ref, changed files.

Everything runs read-only ``git`` commands (``git_process``: no shell, the repository's
code-running settings off); nothing checks out, stages or writes. Git failures become
``GitError`` with advice. ``git_info`` (``git_status``) is one ``git status``, with the top
folder and the ``origin`` URL asked at the same time; ``changed_since`` reuses that status,
so the working tree is scanned once however many files the repository holds.

How ``routes plan --changed-since BASE`` is meant to use this module (O(changed), not O(all)):

1. ``change = changed_since(root, BASE, paths)`` lists the descriptor files that differ
   between ``merge-base(BASE, HEAD)`` and the working tree (renames = deleted + changed).
2. ``loaded = load_paths(change.changed, root=root)`` loads only the changed files as they
   are now; their routes are the desired side.
3. ``before = routes_before(root, change)`` (``routes_defined_at`` of the changed and
   deleted files at the merge base) names the routes those files defined there, so a
   route that was removed from a changed file, or lived in a deleted file, is a target.
4. ``targets = set(loaded.routes) | before``; ``commands.planning.plan_against_backend``
   reads only those from the backend (``backend.get_routes(targets)``) and plans them. Targets
   that are gone from the descriptors become deletes only with ``--prune``; the planner decides.

``routes plan --ref REF`` instead loads ``load_blobs(read_blobs_at(root, REF, paths))``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.integrations.git_process import (
    GitError,
    check_ref,
    command_error,
    path_text,
    resolve_commit,
    run,
    split_z,
    start,
)
from reconciler.integrations.git_status import GitInfo, git_info, parse_remote_slug
from reconciler.integrations.git_tree import (
    DESCRIPTOR_SUFFIXES,
    Objects,
    TreeAt,
    repo_relative,
)

__all__ = [
    "DESCRIPTOR_SUFFIXES",
    "ChangeSet",
    "GitError",
    "GitInfo",
    "changed_since",
    "git_info",
    "newest_commit",
    "parse_remote_slug",
    "read_blobs_at",
    "routes_before",
    "routes_defined_at",
    "routes_described_at",
]

_FULL_DIFF_AT = 2000  # more candidate files than this: one unrestricted diff is cheaper
_PATHS_PER_CALL = 500
_ABSENT = "000000"
_PLAIN_MODES = (_ABSENT, "100644", "100755")


@dataclass(frozen=True)
class ChangeSet:
    """Descriptor files that differ between the merge base and the working tree."""

    changed: tuple[str, ...]
    deleted: tuple[str, ...]
    merge_base: str
    # Each file's mode and blob id at the merge base, when all are plain files or absent
    # (then ``routes_before`` reads them without listing a tree); None otherwise.
    before: tuple[tuple[str, str, str], ...] | None = field(default=None, compare=False, repr=False)


def read_blobs_at(root: Path, ref: str, paths: Sequence[str]) -> list[tuple[str, bytes]]:
    """Descriptor files under repo-relative ``paths`` in the tree at ``ref``, without checkout."""
    commit = resolve_commit(root, ref)
    with Objects(root) as objects:
        tree = TreeAt(root, commit, objects)
        found: dict[str, str] = {}
        for raw in paths:
            for display, entry in tree.read_scope(repo_relative(raw), ref):
                found.setdefault(display, entry.sha)
        contents = objects.read(list(found.values()))
    return sorted((display, contents[sha]) for display, sha in found.items())


def changed_since(
    root: Path, base: str, paths: Sequence[str], *, info: GitInfo | None = None
) -> ChangeSet:
    """Descriptor files changed from merge-base(base, HEAD) to the working tree, in ``paths``.
    ``info`` (from ``git_info``) saves scanning the working tree a second time."""
    scopes = [repo_relative(p) for p in paths]
    check_ref(base)
    if info is None:
        info = git_info(root)
    head = info.commit if info is not None and info.commit else resolve_commit(root, "HEAD")
    # merge-base verifies the ref names a commit; only a failure asks why (rev-parse).
    bases = ("--end-of-options", f"{base}^{{commit}}", head)
    code, out, err = start(root, "merge-base", *bases).finish()
    if code == 1 and not out.strip():
        raise GitError(
            f"{base} and HEAD have no common ancestor",
            hint="compare against a branch this one was created from",
        )
    if code != 0:
        resolve_commit(root, base)
        raise command_error(root, err)
    merge_base = out.split()[0].decode("ascii")
    assert info is not None  # merge-base found a repository
    # A file differs between the merge base and the working tree only if it differs between
    # the merge base and HEAD (trees: no file is read) or git status lists it. Most are told
    # by one of the two alone; only files both name (changed on the branch and again since)
    # are asked about, so one changed file costs the same in 1,000 or 50,000.
    committed: dict[str, str] = {}
    at_base: dict[str, tuple[str, str]] = {}  # mode and blob id at the merge base
    if merge_base != head:
        listing = _diff(root, "--raw", "--no-abbrev", merge_base, head, "--")
        for meta, name in zip(listing[0::2], listing[1::2], strict=False):
            mode, _, sha, _, status = meta.lstrip(":").split()
            committed[name] = status
            at_base[name] = (mode, sha)
    for touched in info.touched:  # the merge base has these as HEAD does, unless committed
        if touched.head_mode:
            at_base.setdefault(touched.path, (touched.head_mode, touched.head_sha))
    since_head = {t.path: t.xy for t in info.touched if _in_scope(t.path, scopes)}
    in_scope = {name: status for name, status in committed.items() if _in_scope(name, scopes)}
    changed, deleted, unsure = _told_apart(in_scope, since_head)
    if len(unsure) > _FULL_DIFF_AT:
        unsure, changed, deleted = [], set(), set()
        listing = _diff(root, "--name-status", merge_base, "--")
    else:
        unsure.sort()
        listing = []
        for begin in range(0, len(unsure), _PATHS_PER_CALL):
            chunk = unsure[begin : begin + _PATHS_PER_CALL]
            listing += _diff(root, "--name-status", merge_base, "--", *chunk)
    # --no-renames: a rename must plan the old route names for deletion too.
    for status, name in zip(listing[0::2], listing[1::2], strict=False):
        (deleted if status.startswith("D") else changed).add(name)
    changed.update(info.untracked)
    deleted -= changed  # `git rm --cached` leaves the file in the working tree
    for name in info.untracked:  # neither in HEAD nor committed: not at the merge base
        at_base.setdefault(name, (_ABSENT, ""))
    change = ChangeSet(
        changed=tuple(sorted(f for f in changed if _in_scope(f, scopes))),
        deleted=tuple(sorted(f for f in deleted if _in_scope(f, scopes))),
        merge_base=merge_base,
    )
    files = (*change.changed, *change.deleted)
    if all(at_base.get(name, ("",))[0] in _PLAIN_MODES for name in files):
        before = tuple((name, *at_base[name]) for name in files)
        return replace(change, before=before)
    return change


def routes_before(root: Path, change: ChangeSet) -> set[str]:
    """Names of the routes the changed and deleted files defined at the merge base."""
    if change.before is None:
        return routes_defined_at(root, change.merge_base, (*change.changed, *change.deleted))
    from reconciler.descriptors.loader import load_blobs

    present = [(name, sha) for name, mode, sha in change.before if mode != _ABSENT]
    with Objects(root) as objects:
        contents = objects.read([sha for _, sha in present])
    return set(load_blobs([(name, contents[sha]) for name, sha in present]).routes)


def routes_defined_at(root: Path, commit: str, files: Iterable[str]) -> set[str]:
    """Names of the routes that ``files`` defined at ``commit``; files absent there add none."""
    rels = sorted({repo_relative(name) for name in files})
    given = set(rels)
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        commit = resolve_commit(root, commit)
    wanted: dict[str, str] = {}
    with Objects(root) as objects:
        tree = TreeAt(root, commit, objects)
        linked: list[str] = []
        for entry in tree.list_paths(rels):
            if entry.kind != "blob":
                continue
            if entry.is_link:
                linked.append(entry.path)
            elif entry.path in given or entry.path.endswith(DESCRIPTOR_SUFFIXES):
                wanted.setdefault(entry.path, entry.sha)
        for rel in linked:
            link = tree.lookup(rel)
            assert link is not None  # ls-tree just listed it
            for display, entry in tree.expand(link, rel, 0, explicit=True):
                wanted.setdefault(display, entry.sha)
        contents = objects.read(list(wanted.values()))
    from reconciler.descriptors.loader import load_blobs

    return set(load_blobs([(path, contents[sha]) for path, sha in wanted.items()]).routes)


def newest_commit(root: Path, commits: Iterable[str]) -> str | None:
    """The newest of ``commits`` (one no other of them descends from) that this clone has;
    None when it has none of them (a shallow clone, or commits never pushed)."""
    shas = sorted({c for c in commits if re.fullmatch(r"[0-9a-f]{7,40}", c)})
    if not shas:
        return None
    # --ignore-missing skips commits the clone lacks; --topo-order lists every child
    # before its parents, so the first commit listed descends from no other given one.
    out = run(root, "rev-list", "--ignore-missing", "--topo-order", "-n", "1", *shas)
    newest = out.decode("ascii", "replace").split()
    return newest[0] if newest else None


def routes_described_at(root: Path, commit: str, paths: Sequence[str]) -> set[str]:
    """Names of the routes the descriptor ``paths`` (repo-relative) held at ``commit``; a path
    that did not exist there holds none."""
    from reconciler.descriptors.loader import load_blobs

    blobs: list[tuple[str, bytes]] = []
    for path in paths:
        try:
            blobs += read_blobs_at(root, commit, [path])
        except GitError:
            continue
    return set(load_blobs(blobs).routes)


# Status pairs whose meaning for `git diff HEAD` is certain. Not ".D": status shows an
# intent-to-add file missing from the working tree so, though HEAD never had it.
def _told_apart(
    committed: dict[str, str], since_head: dict[str, str]
) -> tuple[set[str], set[str], list[str]]:
    """Changed and deleted files, from the merge base to HEAD (``committed``: diff status)
    and from HEAD to the working tree (``since_head``: status XY); and the files only git
    can tell about, because both name them or status is not certain."""
    changed: set[str] = set()
    deleted: set[str] = set()
    unsure: list[str] = []
    for name, status in committed.items():
        if name in since_head:
            unsure.append(name)
        else:  # the working tree has it as HEAD does
            (deleted if status.startswith("D") else changed).add(name)
    for name, xy in since_head.items():
        if name in committed:
            continue  # unsure already
        verdict = _since_head(xy)  # the merge base has it as HEAD does
        if verdict is None:
            unsure.append(name)
        else:
            (deleted if verdict == "D" else changed).add(name)
    return changed, deleted, unsure


_SINCE_HEAD = {**dict.fromkeys((".M", ".T", "M.", "T.", "A."), "M"), "D.": "D"}


def _since_head(xy: str) -> str | None:
    """How ``git diff HEAD`` shows a path git status lists with ``xy`` (index against HEAD,
    working tree against index): "D" deleted, "M" changed; None when only git can tell
    (staged, then edited again; unmerged; intent to add; gone from the working tree)."""
    return _SINCE_HEAD.get(xy)


def _diff(root: Path, *args: str) -> list[str]:
    """``git diff -z --no-renames ARGS`` without external diff programs, as path fields."""
    out = run(root, "diff", "-z", "--no-renames", "--no-ext-diff", "--no-textconv", *args)
    return [path_text(name) for name in split_z(out)]


def _in_scope(name: str, scopes: Sequence[str]) -> bool:
    if not name.endswith(DESCRIPTOR_SUFFIXES):
        return False
    return any(s == "." or name == s or name.startswith(s + "/") for s in scopes)
