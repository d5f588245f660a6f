"""A content-addressed cache of loaded descriptor files: an unchanged file needs no parser.

One entry per file, keyed by the SHA-256 of its bytes and its name's stem (a bare
descriptor is named after its file); it holds what loading that file alone gave: its
route documents (canonical spec, position, the prefixes in file order) and its
diagnostics. Checks across files (duplicate names, shared hosts, shadowed prefixes) run
over the whole set every time, from these documents. The whole cache is keyed by the
tool's version and the digest of the code and schema that load descriptors, so a new
release or rule never reuses an old result.

The file is not trusted. It is signed with HMAC-SHA256 under a key of this user's, kept
outside the repository (``$XDG_CACHE_HOME/routes/descriptor-cache.key``, else
``~/.cache/routes/``; made on first use, ``0600``): a cache committed to a repository,
copied from another machine or edited by hand does not verify and is ignored, as is one
whose format, key or any entry's field types are wrong; the cache is then written anew.
Where no key can be kept (a read-only home), there is no cache. It is one compact JSON
file, written atomically, ``0600``; never pickle, which would run what the file says.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from reconciler.descriptors.schema import PACKAGE
from reconciler.diagnostics import CODES
from reconciler.regular_files import read_regular, write_atomic

__all__ = [
    "CACHE_FILE",
    "DOCUMENT_FIELDS",
    "DescriptorCache",
    "Entry",
    "cache_disabled",
    "key_folder",
    "rules_digest",
    "sign",
    "user_secret",
]

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


KEY_FILE = "descriptor-cache.key"


def key_folder() -> Path:
    """Where this user's cache key lives: outside every repository."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "routes"


def user_secret() -> bytes | None:
    """This user's key for signing descriptor caches, made on first use; None when it can
    be neither read nor made (then nothing is cached)."""
    folder = key_folder()
    path = folder / KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = folder / f".{KEY_FILE}.{secrets.token_hex(8)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode("ascii"))
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # whole or not at all; a key another process made first wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        return _read_key(path)
    except OSError:
        return None


def _read_key(path: Path) -> bytes | None:
    key = read_regular(path, 1024).strip()
    return key if len(key) >= 32 else None


def sign(secret: bytes, body: bytes) -> str:
    """The signature line of a cache body."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


@lru_cache(maxsize=1)
def rules_digest() -> str:
    """The tool version and a digest of every file that decides what a load gives."""
    import reconciler

    digest = hashlib.sha256(reconciler.__version__.encode())
    for name in _RULES:
        digest.update(name.encode() + b"\0")
        digest.update((PACKAGE / name).read_bytes())
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
    secret: bytes | None = None
    entries: dict[str, Entry] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    dirty: bool = False

    @classmethod
    def open(cls, folder: Path, secret: bytes | None = None) -> DescriptorCache:
        """The cache in ``folder``, signed with ``secret`` (this user's key by default);
        empty when it is missing or cannot be trusted."""
        cache = cls(folder, secret if secret is not None else user_secret())
        if cache.secret is not None:
            cache.entries = dict(_read(folder / CACHE_FILE, cache.secret))
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
        if self.secret is None or (not self.dirty and self.used == self.entries.keys()):
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
            ensure_ascii=True,  # a file name need not be Unicode: escaped, it still is JSON
        )
        text = sign(self.secret, body.encode("ascii")) + "\n" + body
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.folder / CACHE_FILE, text, mode=0o600)
        except OSError:
            return


def _read(path: Path, secret: bytes) -> Iterator[tuple[str, Entry]]:
    try:
        raw = read_regular(path, MAX_CACHE_BYTES)
    except (OSError, ValueError):
        return
    signature, _, body = raw.partition(b"\n")
    if not hmac.compare_digest(sign(secret, body).encode("ascii"), signature):
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
