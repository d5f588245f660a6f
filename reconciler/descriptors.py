"""Descriptor files, folders and git blobs -> the desired RouteSet with source locations.

Nothing here raises for bad input: every problem becomes a located diagnostic, and a route
with an error is left out of ``routes`` so a plan never acts on a broken route.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from reconciler import schema
from reconciler.codes import diagnostic, sort_key
from reconciler.gcpause import gc_paused
from reconciler.lint import RouteDocument, lint_document, lint_route_set, route_name_problem
from reconciler.model import DesiredRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.plan import Diagnostic
from reconciler.yamlnodes import Document, compose_roots, locate, parse_documents, position

MAX_FILE_BYTES = 1024 * 1024
SUFFIXES = (".yaml", ".yml")
_ENVELOPE = ["metadata", "resource", "resourceVersion", "spec"]
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadResult:
    """The desired routes, every problem found on the way, and what was read."""

    routes: RouteSet
    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...]
    digest: str

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


@dataclass
class _Sources:
    """The files of one load, recomposed into nodes only when a late check locates a problem.

    Kept apart from ``_Collector`` so the route documents, which point here, make no
    reference cycle: a finished load is freed at once, without waiting for the collector.
    """

    contents: dict[str, bytes] = field(default_factory=dict)
    roots: dict[str, list[Node]] = field(default_factory=dict)

    def locate(
        self, display: str, index: int, base: Path_, path: Path_, key: bool
    ) -> tuple[int, int]:
        """Locate a node of document ``index`` of a file, recomposing it on first use."""
        if display not in self.roots:
            self.roots[display] = compose_roots(self.contents[display])
        return locate(self.roots[display][index], base + path, key=key)


@dataclass
class _Collector:
    """Accumulates one load; turned into a frozen ``LoadResult`` at the end."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    documents: list[RouteDocument] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    sources: _Sources = field(default_factory=_Sources)

    def result(self) -> LoadResult:
        self.diagnostics.extend(lint_route_set(self.documents))
        duplicated = {d.route for d in self.diagnostics if d.code == "R010"}
        routes = {
            doc.name: DesiredRoute(
                doc.name, doc.spec, SourceLocation(doc.file, doc.line, doc.column)
            )
            for doc in self.documents
            if id(doc) not in self.broken and doc.name not in duplicated
        }
        digest = hashlib.sha256()
        for display, content in sorted(self.blobs):
            digest.update(b"%s\0%d\0" % (display.encode("utf-8"), len(content)))
            digest.update(content)
        return LoadResult(
            routes=RouteSet(routes),
            diagnostics=tuple(sorted(self.diagnostics, key=sort_key)),
            files=tuple(sorted(display for display, _ in self.blobs)),
            digest="sha256:" + digest.hexdigest(),
        )


def load_paths(
    paths: Sequence[str | Path], *, root: Path, display_base: Path | None = None
) -> LoadResult:
    """Load descriptor files and folders (``*.yaml``, ``*.yml``, recursive, sorted)."""
    with gc_paused():
        return _load_paths(paths, root=root, display_base=display_base)


def _load_paths(
    paths: Sequence[str | Path], *, root: Path, display_base: Path | None
) -> LoadResult:
    collector = _Collector()
    root_abs = Path(os.path.abspath(root))
    base = Path(os.path.abspath(display_base or root))
    show = functools.partial(_display, base=base)
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(os.path.abspath(raw))
        if not path.exists():
            collector.diagnostics.append(
                diagnostic("R008", f"{show(path)} does not exist: fix the path", file=show(path))
            )
        elif _escapes(path, root_abs):
            collector.diagnostics.append(_escape_diagnostic(show(path)))
        elif path.is_dir():
            for file in _walk(path, root_abs, collector, show):
                found.setdefault(show(file), file)
        else:
            found.setdefault(show(path), path)
    for display, file in sorted(found.items()):
        try:
            with open(file, "rb") as stream:  # one open and read per file: no stat first
                content = stream.read(MAX_FILE_BYTES + 1)
                size = os.fstat(stream.fileno()).st_size if len(content) > MAX_FILE_BYTES else 0
        except OSError as exc:
            collector.diagnostics.append(_unreadable(display, exc))
            continue
        if size:
            collector.diagnostics.append(_too_big(display, size))
            continue
        collector.blobs.append((display, content))
        collector.sources.contents[display] = content
        _load_file(display, content, collector)
    return collector.result()


def load_blobs(blobs: Iterable[tuple[str, bytes]]) -> LoadResult:
    """Load already-read files (display path, content), e.g. from a git tree."""
    collector = _Collector()
    with gc_paused():
        for display, content in sorted(blobs):
            if len(content) > MAX_FILE_BYTES:
                collector.diagnostics.append(_too_big(display, len(content)))
                continue
            collector.blobs.append((display, content))
            collector.sources.contents[display] = content
            _load_file(display, content, collector)
        return collector.result()


def _display(path: Path, *, base: Path) -> str:
    text, prefix = str(path), f"{base}{os.sep}"
    if os.sep == "/" and text.startswith(prefix):  # the common case, without pathlib
        return text[len(prefix) :]
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _stem(display: str) -> str:
    """``PurePosixPath(display).stem``, for 10,000 files without 10,000 path objects."""
    name = display.rpartition("/")[2]
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _escapes(path: Path, root_abs: Path) -> bool:
    """True when ``path`` sits under the root but a symlink takes it outside."""
    return _inside(path, root_abs) and not _inside(path.resolve(), root_abs.resolve())


def _escape_diagnostic(display: str) -> Diagnostic:
    return diagnostic(
        "R007",
        f"{display} is a symlink that leads outside the descriptor root: "
        "copy the file into the repository instead",
        file=display,
        line=1,
        column=1,
    )


def _unreadable(display: str, exc: OSError | RuntimeError) -> Diagnostic:
    reason = getattr(exc, "strerror", None) or str(exc)
    return diagnostic(
        "R029",
        f"{display} cannot be read ({reason}): make it readable or remove it",
        file=display,
        line=1,
        column=1,
    )


def _too_big(display: str, size: int) -> Diagnostic:
    return diagnostic(
        "R004",
        f"file is {size:,} bytes, over the {MAX_FILE_BYTES:,} byte (1 MiB) limit: split it",
        file=display,
        line=1,
        column=1,
    )


def _walk(
    folder: Path, root_abs: Path, collector: _Collector, show: functools.partial[str]
) -> Iterator[Path]:
    """Descriptor files under ``folder``; hidden entries skipped, symlink loops cut."""
    seen: set[Path] = set()
    pending = [folder]
    while pending:
        current = pending.pop()
        real = current.resolve()
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            collector.diagnostics.append(_unreadable(show(current), exc))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
                if not is_dir and not entry.name.endswith(SUFFIXES):
                    continue
                escapes = entry.is_symlink() and _escapes(path, root_abs)
            except (OSError, RuntimeError) as exc:  # e.g. a symlink loop
                collector.diagnostics.append(_unreadable(show(path), exc))
                continue
            if escapes:
                collector.diagnostics.append(_escape_diagnostic(show(path)))
            elif is_dir:
                pending.append(path)
            elif entry.is_file():
                yield path


def _load_file(display: str, content: bytes, collector: _Collector) -> None:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        column = exc.start - content.rfind(b"\n", 0, exc.start)
        collector.diagnostics.append(
            diagnostic(
                "R005",
                f"byte 0x{content[exc.start]:02x} is not UTF-8: save the file as UTF-8",
                file=display,
                line=line,
                column=column,
            )
        )
        return
    documents, problem = parse_documents(content)
    if problem is not None:
        collector.diagnostics.append(
            diagnostic(
                problem.code,
                problem.message,
                file=display,
                line=problem.line,
                column=problem.column,
            )
        )
    elif not documents:
        collector.diagnostics.append(
            diagnostic(
                "W105",
                "file holds no YAML document: add a route descriptor or delete the file",
                file=display,
                line=1,
                column=1,
            )
        )
    bare_seen = False
    for index, document in enumerate(documents):
        value = document.value
        line, column = position(document.root)
        if not isinstance(value, dict):
            kind = "a list" if isinstance(value, list) else "a single value"
            collector.diagnostics.append(
                diagnostic(
                    "R006",
                    f"a descriptor document must be a mapping of fields, not {kind}",
                    file=display,
                    line=line,
                    column=column,
                )
            )
        elif "resource" in value:
            _project_document(display, index, document, collector)
        elif bare_seen:
            collector.diagnostics.append(
                diagnostic(
                    "R028",
                    "only one bare route descriptor is allowed per file (it is named after "
                    "the file): move this one to its own file, or use `resource: Route` "
                    "documents with metadata.name",
                    file=display,
                    line=line,
                    column=column,
                )
            )
        else:
            bare_seen = True
            name = _stem(display)
            problem_text = route_name_problem(name)
            if problem_text:
                collector.diagnostics.append(
                    diagnostic(
                        "R009",
                        f"{problem_text} (the name is the file name): rename the file",
                        file=display,
                        line=1,
                        column=1,
                        route=name,
                    )
                )
                continue
            _route(name, value, (display, index, document.root), (), collector)


def _project_document(display: str, index: int, document: Document, collector: _Collector) -> None:
    value, root = document.value, document.root

    def report(code: str, message: str, path: tuple[str | int, ...], key: bool = False) -> None:
        line, column = locate(root, path, key=key)
        collector.diagnostics.append(
            diagnostic(code, message, file=display, line=line, column=column)
        )

    if value["resource"] != "Route":
        report(
            "I201",
            f"skipped a `{value['resource']}` document: only `resource: Route` documents "
            "are routes",
            ("resource",),
        )
        return
    for key in sorted(set(value) - set(_ENVELOPE), key=str):
        report("R013", schema.unknown_field_message(str(key), "", _ENVELOPE), (key,), True)
    metadata = value.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if value.get("resourceVersion") != "v1":
        report("R011", "a Route document needs `resourceVersion: v1`", ("resourceVersion",))
    elif not isinstance(name, str):
        report("R011", "a Route document needs `metadata: {name: NAME}`", ("metadata",))
    elif not isinstance(value.get("spec"), dict):
        report("R011", "a Route document needs a `spec:` mapping with the route", ("spec",))
    elif (problem := route_name_problem(name)) is not None:
        report("R009", problem, ("metadata", "name"))
    elif set(value) <= set(_ENVELOPE):
        _route(name, value["spec"], (display, index, root), ("spec",), collector)


def _route(
    name: str,
    descriptor: dict[str, Any],
    origin: tuple[str, int, Node],
    base: Path_,
    collector: _Collector,
) -> None:
    """Schema-check one descriptor, then lint it and keep it as a route document."""
    display, index, root = origin
    problems = schema.check(descriptor)
    for problem in problems:
        line, column = locate(root, base + problem.path, key=problem.at_key)
        collector.diagnostics.append(
            diagnostic(
                problem.code, problem.message, file=display, line=line, column=column, route=name
            )
        )
    if problems:
        return
    line, column = position(root)
    doc = RouteDocument(
        name=name,
        descriptor=descriptor,
        spec=RouteSpec.from_dict(descriptor),
        file=display,
        line=line,
        column=column,
        locate=functools.partial(collector.sources.locate, display, index, base),
    )
    findings = lint_document(doc)
    collector.diagnostics.extend(findings)
    collector.documents.append(doc)
    if any(d.severity == "error" for d in findings):
        collector.broken.add(id(doc))
