"""Descriptor files in the tree of one commit, read from git's object store (no checkout).

Trees are listed with ``git ls-tree -z`` (only the folders asked for, each once) and file
contents come from one ``git cat-file --batch`` by object id, so no file name ever crosses
a line-based protocol. Symlinks are followed inside the tree (relative to the link's own
folder, at most ``MAX_LINK_HOPS`` deep) and refused when they leave it; submodules are no
descriptor files and are skipped inside folders, refused when named.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO

from reconciler.integrations.git_process import (
    GitError,
    Running,
    path_text,
    run,
    split_z,
    start,
)

DESCRIPTOR_SUFFIXES = (".yaml", ".yml")
SYMLINK_MODE = "120000"
MAX_LINK_HOPS = 8
_BATCH = 500  # object ids written to `cat-file --batch` before reading their answers


@dataclass(frozen=True)
class Entry:
    """One entry of a tree: its real path (not the one it was reached by), kind and id."""

    path: str
    mode: str
    kind: str  # blob, tree or commit (a submodule)
    sha: str

    @property
    def is_link(self) -> bool:
        return self.kind == "blob" and self.mode == SYMLINK_MODE


def parse_ls_tree(output: bytes) -> Iterator[Entry]:
    """Entries of ``git ls-tree -z`` output, in git's order."""
    for record in split_z(output):
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, sha = meta.decode("ascii").split()
        yield Entry(path_text(raw_path), mode, kind, sha)


class Objects:
    """One ``git cat-file --batch`` process answering a command's reads of file contents."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._running: Running | None = None

    def __enter__(self) -> Objects:
        return self

    def __exit__(self, *_: object | TracebackType) -> None:
        self.close()

    def read(self, shas: Sequence[str]) -> dict[str, bytes]:
        """The contents of the blobs ``shas``; a missing or non-file object is an error."""
        unique = list(dict.fromkeys(shas))
        found: dict[str, bytes] = {}
        if not unique:
            return found
        process = self._process()
        assert process.stdin is not None and process.stdout is not None
        for begin in range(0, len(unique), _BATCH):
            chunk = unique[begin : begin + _BATCH]
            try:
                process.stdin.write("".join(f"{sha}\n" for sha in chunk).encode("ascii"))
                process.stdin.flush()
            except BrokenPipeError as exc:
                raise self._failure() from exc
            for sha in chunk:
                found[sha] = self._answer(process.stdout, sha)
        return found

    def close(self) -> None:
        if self._running is not None:
            self._running.finish()  # closes its input: cat-file ends
            self._running = None

    def _process(self) -> subprocess.Popen[bytes]:
        if self._running is None:
            self._running = start(self._root, "cat-file", "--batch", stdin=True)
        return self._running.process

    def _answer(self, stdout: IO[bytes], sha: str) -> bytes:
        header = stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            if not header:
                raise self._failure()
            raise GitError(f"git object {sha} is missing or not a file in {self._root}")
        size = int(header[2])
        data = stdout.read(size)
        stdout.read(1)  # the newline after each object
        if len(data) != size:
            raise self._failure()
        return data

    def _failure(self) -> GitError:
        running, self._running = self._running, None
        if running is None:
            return GitError(f"git cat-file stopped in {self._root}")
        code, _, err = running.finish()
        said = err.decode("utf-8", "replace").strip()
        return GitError(f"git failed in {self._root}: {said or f'cat-file exited {code}'}")


@dataclass
class TreeAt:
    """The tree of ``commit``, listed lazily: only the folders a read needs, each once."""

    root: Path
    commit: str
    objects: Objects
    entries: dict[str, Entry] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    listed: set[str] = field(default_factory=set)  # paths whose whole subtree is known

    def lookup(self, rel: str) -> Entry | None:
        """The entry at repo-relative ``rel`` (no link followed on the way); None if absent."""
        if rel in ("", ".") or "\0" in rel:
            return None
        if rel not in self.entries and not self._covered(rel):
            self._list(rel)
        return self.entries.get(rel)

    def children_of(self, tree: str) -> list[Entry]:
        """The entries of the folder ``tree`` ("" for the top), in git's order."""
        if not self._covered(tree):
            self._list(tree)
        return [self.entries[path] for path in self.children.get(tree, ())]

    def list_paths(self, rels: Sequence[str]) -> list[Entry]:
        """``git ls-tree -r`` of ``rels`` (files under folders, links not followed)."""
        found: list[Entry] = []
        for begin in range(0, len(rels), _BATCH):
            chunk = rels[begin : begin + _BATCH]
            output = run(self.root, "ls-tree", "-r", "-z", "--full-tree", self.commit, "--", *chunk)
            found.extend(parse_ls_tree(output))
        return found

    def _covered(self, rel: str) -> bool:
        if "" in self.listed:
            return True
        parts = rel.split("/")
        return any("/".join(parts[:n]) in self.listed for n in range(1, len(parts) + 1))

    def _list(self, rel: str) -> None:
        args = ["ls-tree", "-r", "-t", "-z", "--full-tree", self.commit]
        output = run(self.root, *args, *(["--", rel] if rel else []))
        fresh: dict[str, list[str]] = {}
        for entry in parse_ls_tree(output):
            self.entries.setdefault(entry.path, entry)
            parent = entry.path.rpartition("/")[0]
            fresh.setdefault(parent, []).append(entry.path)
        for parent, paths in fresh.items():
            if not rel or parent == rel or parent.startswith(rel + "/"):
                self.children[parent] = paths
        self.listed.add(rel)

    def read_scope(self, rel: str, ref: str) -> Iterator[tuple[str, Entry]]:
        """The descriptor blobs a PATH argument names: a file as it is, a folder's files."""
        if rel == ".":
            yield from self._walk("", "", 0)
            return
        item = self.lookup(rel)
        if item is None:
            raise GitError(
                f"{rel} does not exist at git ref {ref!r}",
                hint="check the descriptor path, or pick a ref that has it",
            )
        if item.kind == "commit":
            raise GitError(f"{rel} at {ref!r} is a submodule, not descriptor files")
        yield from self.expand(item, rel, 0, explicit=True)

    def expand(
        self, item: Entry, display: str, hops: int, *, explicit: bool
    ) -> Iterator[tuple[str, Entry]]:
        """Blobs for one entry, shown under ``display`` even when reached through a link."""
        if item.kind == "tree":
            yield from self._walk(item.path, display, hops)
        elif item.is_link:
            target = self._follow(item, display, hops)
            yield from self.expand(target, display, hops + 1, explicit=explicit)
        elif item.kind == "blob" and (explicit or display.endswith(DESCRIPTOR_SUFFIXES)):
            yield display, item

    def _walk(self, tree: str, display: str, hops: int) -> Iterator[tuple[str, Entry]]:
        for entry in self.children_of(tree):
            name = entry.path.rpartition("/")[2]
            child = f"{display}/{name}" if display else name
            yield from self.expand(entry, child, hops, explicit=False)

    def _follow(self, link: Entry, display: str, hops: int) -> Entry:
        target = self.objects.read([link.sha])[link.sha].decode("utf-8", "replace")
        joined = str(PurePosixPath(link.path).parent / target)
        if hops >= MAX_LINK_HOPS or target.startswith("/"):
            raise GitError(f"{display} is a symlink that leaves the repository ({target})")
        try:
            found = self.lookup(repo_relative(joined))
        except GitError:
            found = None
        if found is None:
            raise GitError(
                f"{display} is a symlink to {target}, which is not in the repository",
                hint="commit the file itself instead of a link outside the repository",
            )
        return found


def repo_relative(raw: str) -> str:
    """``raw`` as a path inside the repository ("." for its top); refused when it leaves it."""
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
