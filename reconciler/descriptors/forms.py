"""One descriptor file's bytes -> route documents: a bare descriptor or `resource: Route` forms.

Nothing here raises for bad input: every problem becomes a located diagnostic, and a route
with an error is marked broken so a plan never acts on it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import Node

from reconciler.descriptors import schema
from reconciler.descriptors.cache import DescriptorCache, Entry
from reconciler.descriptors.lint import RouteDocument, route_name_problem
from reconciler.descriptors.spec_check import SCHEMA_CODES, check_spec
from reconciler.descriptors.yaml_nodes import (
    Document,
    compose_roots,
    locate,
    parse_documents,
    position,
)
from reconciler.diagnostics import CODES, Diagnostic, diagnostic
from reconciler.model import RouteSpec

_ENVELOPE = ["metadata", "resource", "resourceVersion", "spec"]
Path_ = tuple[str | int, ...]


@dataclass
class Sources:
    """The files of one load, recomposed into nodes only when a late check locates a problem.

    Kept apart from ``Collector`` so the route documents, which point here, make no
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
class Collector:
    """Accumulates the files, route documents and diagnostics of one load."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    documents: list[RouteDocument] = field(default_factory=list)
    broken: set[int] = field(default_factory=set)
    blobs: list[tuple[str, bytes]] = field(default_factory=list)
    sources: Sources = field(default_factory=Sources)
    cache: DescriptorCache | None = None
    replayed: set[str] = field(default_factory=set)  # names of routes the cache gave

    def add(self, display: str, content: bytes, key: str | None = None) -> None:
        """Keep one file's content and load the route documents it holds (from the cache
        when this very content, under this file name's stem, was loaded before); ``key``:
        its ``cache_key``, when already made."""
        self.blobs.append((display, content))
        self.sources.contents[display] = content
        if self.cache is None:
            load_file(display, content, self)
            return
        key = key or self.cache.key(content, _stem(display))
        entry = self.cache.get(key)
        if entry is not None:
            self._replay(display, entry, cached=True)
            return
        docs, diags = len(self.documents), len(self.diagnostics)
        load_file(display, content, self)
        self.cache.put(key, self.recorded(docs, diags))

    def cache_key(self, display: str, content: bytes) -> str | None:
        """The file's key in the cache (None without one)."""
        return None if self.cache is None else self.cache.key(content, _stem(display))

    def is_cached(self, key: str | None) -> bool:
        """Whether ``add`` would take the file of this ``cache_key`` from the cache."""
        return self.cache is not None and key in self.cache.entries

    def add_loaded(self, display: str, content: bytes, entry: Entry, key: str | None) -> None:
        """Keep one file whose load another process of this run made (``recorded`` there):
        the same as ``add``, without parsing it here."""
        self.blobs.append((display, content))
        self.sources.contents[display] = content
        self._replay(display, entry, cached=False)
        if self.cache is not None and key is not None:
            self.cache.put(key, entry)

    def recorded(self, docs: int, diags: int) -> Entry:
        """What the files loaded since ``docs`` documents and ``diags`` diagnostics gave,
        as the cache keeps it."""
        documents = []
        for doc in self.documents[docs:]:
            _, index, base = doc.locate.args  # type: ignore[attr-defined]
            spec = doc.spec
            documents.append(
                # The order of cache.DOCUMENT_FIELDS.
                [
                    doc.name,
                    spec.canonical_json(),
                    spec.host,
                    list(doc.prefixes),
                    index,
                    list(base),
                    doc.line,
                    doc.column,
                    id(doc) in self.broken,
                ]
            )
        diagnostics = [
            {"code": d.code, "message": d.message, "line": d.line, "column": d.column}
            | ({"route": d.route} if d.route is not None else {})
            for d in self.diagnostics[diags:]
        ]
        return Entry(tuple(documents), tuple(diagnostics))

    def _replay(self, display: str, entry: Entry, *, cached: bool) -> None:
        """Add what ``entry`` holds; ``cached``: it came from the cache file, which is not
        trusted, so a plan checks again any of its specs it would write."""
        locate = self.sources.locate
        for name, spec, host, prefixes, index, base, line, column, broken in entry.documents:
            doc = RouteDocument(
                name=name,
                prefixes=tuple(prefixes),
                spec=RouteSpec.from_canonical_json(spec, host),
                file=display,
                line=line,
                column=column,
                locate=functools.partial(locate, display, index, tuple(base)),
            )
            self.documents.append(doc)
            if cached:
                self.replayed.add(name)
            if broken:
                self.broken.add(id(doc))
        self.diagnostics.extend(
            diagnostic(
                d["code"],
                d["message"],
                file=display,
                line=d["line"],
                column=d["column"],
                route=d.get("route"),
            )
            for d in entry.diagnostics
        )


def load_file(display: str, content: bytes, collector: Collector) -> None:
    """Parse and check one file's content into ``collector``."""
    report = functools.partial(_report, collector, display)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        column = exc.start - content.rfind(b"\n", 0, exc.start)
        byte = content[exc.start]
        report("R005", f"byte 0x{byte:02x} is not UTF-8: save the file as UTF-8", line, column)
        return
    documents, problem = parse_documents(content)
    if problem is not None:
        report(problem.code, problem.message, problem.line, problem.column)
    elif not documents:
        report("W105", "file holds no YAML document: add a route descriptor or delete the file")
    bare_seen = False
    for index, document in enumerate(documents):
        value = document.value
        line, column = position(document.root)
        if not isinstance(value, dict):
            kind = "a list" if isinstance(value, list) else "a single value"
            report(
                "R006",
                f"a descriptor document must be a mapping of fields, not {kind}",
                line,
                column,
            )
        elif "resource" in value:
            _project_document(display, index, document, collector)
        elif bare_seen:
            report(
                "R028",
                "only one bare route descriptor is allowed per file (it is named after "
                "the file): move this one to its own file, or use `resource: Route` "
                "documents with metadata.name",
                line,
                column,
            )
        else:
            bare_seen = True
            _bare_document(display, index, document, collector)


def _bare_document(display: str, index: int, document: Document, collector: Collector) -> None:
    """The one bare descriptor of a file: the route is named after the file."""
    name = _stem(display)
    problem_text = route_name_problem(name)
    if problem_text:
        message = f"{problem_text} (the name is the file name): rename the file"
        _report(collector, display, "R009", message, route=name)
        return
    _route(name, document.value, (display, index, document.root), (), collector)


def _report(
    collector: Collector,
    display: str,
    code: str,
    message: str,
    line: int = 1,
    column: int = 1,
    route: str | None = None,
) -> None:
    collector.diagnostics.append(
        diagnostic(code, message, file=display, line=line, column=column, route=route)
    )


def _project_document(display: str, index: int, document: Document, collector: Collector) -> None:
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
    collector: Collector,
) -> None:
    """Check one descriptor (``check_spec``) and keep it as a route document if it can be."""
    display, index, root = origin

    def refer(path: Path_) -> str:
        return f"line {locate(root, base + path)[0]}"

    problems = check_spec(descriptor, refer)
    for problem in problems:
        line, column = locate(root, base + problem.path, key=problem.at_key)
        collector.diagnostics.append(
            diagnostic(
                problem.code, problem.message, file=display, line=line, column=column, route=name
            )
        )
    if problems and problems[0].code in SCHEMA_CODES:
        return  # the schema failed: there is no spec to keep
    line, column = position(root)
    doc = RouteDocument(
        name=name,
        prefixes=tuple(str(rule["prefix"]) for rule in descriptor["routes"]),
        spec=RouteSpec.from_dict(descriptor),
        file=display,
        line=line,
        column=column,
        locate=functools.partial(collector.sources.locate, display, index, base),
    )
    collector.documents.append(doc)
    if any(CODES[p.code][0] == "error" for p in problems):
        collector.broken.add(id(doc))


def _stem(display: str) -> str:
    """``PurePosixPath(display).stem``, for 10,000 files without 10,000 path objects."""
    name = display.rpartition("/")[2]
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name
