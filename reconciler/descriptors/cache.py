"""A content-addressed cache of loaded descriptor files: an unchanged file needs no parser.

One entry per file, keyed by the SHA-256 of its bytes and its name's stem (a bare
descriptor is named after its file); it holds what loading that file alone gave: its
route documents (canonical spec, position, the prefixes in file order) and its
diagnostics. Checks across files (duplicate names, shared hosts, shadowed prefixes) run
over the whole set every time, from these documents. The whole cache is keyed by the
tool's version and the digest of the code and schema that load descriptors, so a new
release or rule never reuses an old result.

The file is not trusted: it is read only when its checksum, format and key match, and
each entry only when every field has its type; anything else is ignored and the cache is
written anew. (Whoever can write it can write the descriptors beside it: the checksum is
there for corruption, not as a signature.) It is one compact JSON file, written
atomically, ``0600``; never pickle, which would run what the file says.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from reconciler.diagnostics import CODES
from reconciler.regular_files import read_regular, write_atomic

__all__ = ["CACHE_FILE", "DescriptorCache", "Entry", "cache_disabled", "rules_digest"]

CACHE_FILE = "descriptors.json"
FORMAT = "routes-descriptor-cache/3"
MAX_CACHE_BYTES = 512 << 20  # far above 50,000 routes; a bigger file is not ours

# The code and data whose change can change what loading a file gives.
_RULES = (
    "descriptors/forms.py",
    "descriptors/lint.py",
    "descriptors/schema.py",
    "descriptors/spec_check.py",
    "descriptors/spec_rules.py",
    "descriptors/yaml_nodes.py",
    "descriptors/yaml_depth.py",
    "diagnostics.py",
    "model.py",
    "canonical.py",
    "schemas/route-descriptor.schema.json",
)


# What a cached route document holds, in this order: the spec is its canonical JSON text.
DOCUMENT_FIELDS = ("name", "spec", "host", "prefixes", "index", "base", "line", "column", "broken")


def cache_disabled() -> bool:
    """``ROUTES_NO_CACHE=1`` (or any value but empty and ``0``) turns the cache off."""
    return os.environ.get("ROUTES_NO_CACHE", "") not in ("", "0")


@lru_cache(maxsize=1)
def rules_digest() -> str:
    """The tool version and a digest of every file that decides what a load gives."""
    import reconciler

    digest = hashlib.sha256(reconciler.__version__.encode())
    package = resources.files("reconciler")
    for name in _RULES:
        digest.update(name.encode() + b"\0")
        digest.update(package.joinpath(name).read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    """What loading one file gave, with no file name in it (it is added back on replay)."""

    documents: tuple[list[Any], ...]  # each a list of DOCUMENT_FIELDS, in that order
    diagnostics: tuple[dict[str, Any], ...]  # code, message, line, column, route


@dataclass
class DescriptorCache:
    """The entries of ``folder/descriptors.json``: read on open, written by ``save``."""

    folder: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    dirty: bool = False

    @classmethod
    def open(cls, folder: Path) -> DescriptorCache:
        """The cache in ``folder``; empty when it is missing or cannot be trusted."""
        cache = cls(folder)
        cache.entries = dict(_read(folder / CACHE_FILE))
        return cache

    @staticmethod
    def key(content: bytes, stem: str) -> str:
        return hashlib.sha256(content).hexdigest() + ":" + stem

    def get(self, key: str) -> Entry | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.used.add(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        self.entries[key] = entry
        self.used.add(key)
        self.dirty = True

    def save(self) -> None:
        """Write the entries this load used (others are dropped), if anything changed.
        A cache that cannot be written is no error: the next load parses again."""
        if not self.dirty and self.used == self.entries.keys():
            return
        kept = {key: self.entries[key] for key in sorted(self.used)}
        body = json.dumps(
            {
                "format": FORMAT,
                "rules": rules_digest(),
                "entries": {
                    key: [list(entry.documents), list(entry.diagnostics)]
                    for key, entry in kept.items()
                },
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        text = hashlib.sha256(body.encode("utf-8")).hexdigest() + "\n" + body
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.folder / CACHE_FILE, text, mode=0o600)
        except OSError:
            return


def _read(path: Path) -> Iterator[tuple[str, Entry]]:
    try:
        raw = read_regular(path, MAX_CACHE_BYTES)
    except (OSError, ValueError):
        return
    checksum, _, body = raw.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != checksum:
        return
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return
    if document.get("rules") != rules_digest() or not isinstance(document.get("entries"), dict):
        return
    for key, value in document["entries"].items():
        entry = _entry(value)
        if entry is not None and isinstance(key, str):
            yield key, entry


def _entry(value: Any) -> Entry | None:
    """One entry, if every field has its type; None otherwise."""
    if not (isinstance(value, list) and len(value) == 2):
        return None
    documents, diagnostics = value
    if not (isinstance(documents, list) and isinstance(diagnostics, list)):
        return None
    if not all(_is_document(d) for d in documents):
        return None
    if not all(_is_diagnostic(d) for d in diagnostics):
        return None
    return Entry(tuple(documents), tuple(diagnostics))


def _is_document(value: Any) -> bool:
    if type(value) is not list or len(value) != len(DOCUMENT_FIELDS):
        return False
    name, spec, host, prefixes, index, base, line, column, broken = value
    return (
        type(name) is str
        and type(spec) is str
        and type(host) is str
        and type(prefixes) is list
        and all(type(p) is str for p in prefixes)
        and type(index) is int
        and type(base) is list
        and all(type(step) is str or type(step) is int for step in base)
        and type(line) is int
        and type(column) is int
        and type(broken) is bool
    )


def _is_diagnostic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("code") in CODES
        and isinstance(value.get("message"), str)
        and type(value.get("line")) is int
        and type(value.get("column")) is int
        and (value.get("route") is None or isinstance(value.get("route"), str))
    )
