"""What a plan records about the repository it was made from: commit, branch, dirty, the
``origin`` owner; and what ``git status`` saw, so ``--changed-since`` scans once.

One ``git status`` answers most of it, started with ``git rev-parse --show-toplevel`` and
``git config remote.origin.url`` at the same time; ``GitFacts`` lets a command start them
before it imports what planning needs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from reconciler.integrations.git_process import (
    GitMissing,
    Running,
    command_error,
    path_text,
    split_z,
    start,
)

_STATUS = (
    *("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", "--no-renames"),
    "--no-ahead-behind",  # not read; counting commits against an upstream can take long
)
_NO_WORK_TREE = (b"not a git repository", b"must be run in a work tree")


class Touched(NamedTuple):
    """A path git status lists: its XY (index against HEAD, working tree against index) and
    its mode and blob id in HEAD ("" when status does not say)."""

    path: str
    xy: str
    head_mode: str
    head_sha: str


@dataclass(frozen=True)
class GitInfo:
    """Facts about the repository a plan was made from."""

    root: Path
    commit: str | None
    dirty: bool
    branch: str | None
    remote_slug: str | None
    # What `git status` saw, so `changed_since` need not scan the working tree again:
    # tracked paths whose HEAD, index and working-tree versions differ, and untracked files.
    touched: tuple[Touched, ...] = field(default=(), compare=False, repr=False)
    untracked: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def to_plan_dict(self) -> dict[str, Any]:
        """The plan's ``source.git`` object."""
        return {"commit": self.commit, "dirty": self.dirty, "branch": self.branch}


def git_info(path: Path) -> GitInfo | None:
    """Describe the repository containing ``path``; None outside a git working tree (or
    without git installed: a plan needs no git facts)."""
    return GitFacts.start(path).result()


@dataclass
class GitFacts:
    """``git_info`` of ``path``, started now and read later: a command starts it before it
    imports what planning needs, so scanning a big working tree costs no extra time."""

    path: Path
    running: tuple[Running, Running, Running] | None
    answer: list[GitInfo | None] = field(default_factory=list)  # once read

    @classmethod
    def start(cls, path: Path | None = None) -> GitFacts:
        """Start the three questions in ``path`` (default: here); each git start costs more
        than its answer, so they run at the same time."""
        try:
            path = path or Path(os.getcwd())
        except OSError:  # the current folder was removed
            return cls(Path("."), None, [None])
        if not path.is_dir():
            return cls(path, None, [None])
        try:
            top = start(path, "rev-parse", "--show-toplevel")
        except GitMissing:
            return cls(path, None, [None])
        status = start(path, *_STATUS)
        remote = start(path, "config", "--get", "remote.origin.url")
        return cls(path, (top, status, remote))

    def result(self) -> GitInfo | None:
        """The facts; None outside a git working tree or without git."""
        if not self.answer:
            assert self.running is not None
            running, self.running = self.running, None
            self.answer.append(_read_facts(self.path, *running))
        return self.answer[0]

    def for_root(self, root: Path) -> GitInfo | None:
        """``git_info(root)``, from these facts when ``root`` is in the same working tree."""
        info = self.result()
        if info is not None and _same_work_tree(root.resolve(), info.root.resolve()):
            return info
        if info is None and root.resolve() == self.path.resolve():
            return None
        return git_info(root)

    def close(self) -> None:
        """Reap the git processes if nobody read their answer (a command that failed early)."""
        running, self.running = self.running, None
        for question in running or ():
            question.process.kill()
            question.finish()


def _same_work_tree(path: Path, top: Path) -> bool:
    """Whether git would find the work tree ``top`` from ``path`` (no nested repository)."""
    if path != top and top not in path.parents:
        return False
    here = path
    while here != top:
        if (here / ".git").exists():
            return False
        here = here.parent
    return True


def _read_facts(path: Path, top: Running, status: Running, remote: Running) -> GitInfo | None:
    code, out, err = top.finish()
    status_code, status_out, status_err = status.finish()
    remote_code, remote_out, _ = remote.finish()
    if code != 0:
        if any(marker in err for marker in _NO_WORK_TREE):
            return None
        raise command_error(path, err)
    root = Path(path_text(out.rstrip(b"\n")))
    if status_code != 0:
        raise command_error(root, status_err)
    url = remote_out.decode("utf-8", "replace").strip() if remote_code == 0 else ""
    head: dict[str, str] = {}
    touched: list[Touched] = []
    untracked: list[str] = []
    records = iter(split_z(status_out))
    for record in records:
        kind = record[:2]
        if kind == b"# ":
            key, _, value = record[2:].decode("utf-8", "replace").partition(" ")
            head[key] = value
        elif kind == b"? ":
            untracked.append(path_text(record[2:]))
        elif kind == b"1 ":  # 1 XY sub mH mI mW hH hI path
            parts = record.split(b" ", 8)
            xy, mode, sha = (parts[n].decode("ascii", "replace") for n in (1, 3, 6))
            touched.append(Touched(path_text(parts[8]), xy, mode, sha))
        elif kind in (b"2 ", b"u "):  # a rename (never asked for) names its source next
            fields = 9 if kind == b"2 " else 10
            touched.append(Touched(path_text(record.split(b" ", fields)[fields]), "??", "", ""))
            if kind == b"2 ":
                touched.append(Touched(path_text(next(records, b"")), "??", "", ""))
    oid, branch = head.get("branch.oid"), head.get("branch.head")
    return GitInfo(
        root=root,
        commit=oid if oid and oid != "(initial)" else None,
        dirty=bool(touched or untracked),
        branch=branch if branch and branch != "(detached)" else None,
        remote_slug=parse_remote_slug(url) if url else None,
        touched=tuple(touched),
        untracked=tuple(untracked),
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
