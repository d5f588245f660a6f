"""Descriptor files, folders and git blobs -> the desired RouteSet with source locations.

Nothing here raises for bad input: every problem becomes a located diagnostic, and a route
with an error is left out of ``routes`` so a plan never acts on a broken route. Finding and
reading files lives in ``descriptor_files``; what a file's documents mean, in
``descriptor_forms``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.descriptors.cache import DescriptorCache
from reconciler.descriptors.files import MAX_FILE_BYTES, SUFFIXES, read_files, too_big
from reconciler.descriptors.forms import Collector
from reconciler.descriptors.lint import lint_route_set
from reconciler.descriptors.parallel import add_files
from reconciler.descriptors.spec_check import remember
from reconciler.diagnostics import Diagnostic, sort_key
from reconciler.gcpause import gc_paused
from reconciler.model import DesiredRoute, RouteSet, SourceLocation

__all__ = ["MAX_FILE_BYTES", "SUFFIXES", "LoadResult", "load_blobs", "load_paths"]


@dataclass(frozen=True)
class LoadResult:
    """The desired routes, every problem found on the way, and what was read."""

    routes: RouteSet
    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...]
    digest: str
    # Routes whose spec the descriptor cache gave: a plan checks again those it would write.
    replayed: frozenset[str] = frozenset()

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


def load_paths(
    paths: Sequence[str | Path],
    *,
    root: Path,
    display_base: Path | None = None,
    cache: DescriptorCache | None = None,
) -> LoadResult:
    """Load descriptor files and folders (``*.yaml``, ``*.yml``, recursive, sorted); files
    whose bytes ``cache`` has seen are not parsed again."""
    with gc_paused():
        collector = Collector(cache=cache)
        report = collector.diagnostics.append
        files = list(read_files(paths, root=root, display_base=display_base, report=report))
        add_files(collector, files)
        return _result(collector)


def load_blobs(
    blobs: Iterable[tuple[str, bytes]], *, cache: DescriptorCache | None = None
) -> LoadResult:
    """Load already-read files (display path, content), e.g. from a git tree."""
    collector = Collector(cache=cache)
    with gc_paused():
        files = []
        for display, content in sorted(blobs):
            if len(content) > MAX_FILE_BYTES:
                collector.diagnostics.append(too_big(display, len(content)))
            else:
                files.append((display, content))
        add_files(collector, files)
        return _result(collector)


def _result(collector: Collector) -> LoadResult:
    """Freeze one load: lint across routes, drop broken and duplicated routes, digest the files."""
    collector.diagnostics.extend(lint_route_set(collector.documents))
    duplicated = {d.route for d in collector.diagnostics if d.code == "R010"}
    routes = {
        doc.name: DesiredRoute(doc.name, doc.spec, SourceLocation(doc.file, doc.line, doc.column))
        for doc in collector.documents
        if id(doc) not in collector.broken and doc.name not in duplicated
    }
    # Of the routes the files describe, canonical and with secrets hidden: the same whichever
    # folder the command runs from and whether the files come from the working tree or git,
    # and nothing in it can test a password guess (saved plans record and compare it).
    digest = hashlib.sha256()
    for name in sorted(routes):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(routes[name].spec.fingerprint().encode("ascii"))
    remember(route.spec for route in routes.values())
    if collector.cache is not None:
        collector.cache.save()
    return LoadResult(
        routes=RouteSet(routes),
        diagnostics=tuple(sorted(collector.diagnostics, key=sort_key)),
        files=tuple(sorted(display for display, _ in collector.blobs)),
        digest="sha256:" + digest.hexdigest(),
        replayed=frozenset(collector.replayed & routes.keys()),
    )
