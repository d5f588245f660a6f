"""Cross-route checks over loaded route documents -> located diagnostics.

A single spec is checked by ``reconciler.descriptors.spec_check`` (the one validation every
door uses); this module holds what only the whole set can show: duplicate names, shared
hosts, shadowed prefixes. It compares canonical specs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from reconciler.descriptors.spec_rules import host_problem, route_name_problem
from reconciler.diagnostics import CODES, Diagnostic, diagnostic
from reconciler.model import RouteSpec

__all__ = ["CODES", "RouteDocument", "host_problem", "lint_route_set", "route_name_problem"]

Path = tuple[str | int, ...]
Locate = Callable[[Path, bool], tuple[int, int]]


def _nowhere(path: Path, key: bool) -> tuple[int, int]:
    return 1, 1


@dataclass(frozen=True)
class RouteDocument:
    """One route as read: its name, canonical spec, where it came from, and its rules'
    prefixes in file order (to locate them; the raw descriptor itself is not kept, so a load
    of 50,000 routes never holds a second copy of every descriptor)."""

    name: str
    prefixes: tuple[str, ...]
    spec: RouteSpec
    file: str
    line: int = 1
    column: int = 1
    locate: Locate = _nowhere

    def diag(self, code: str, message: str, path: Path = (), *, key: bool = False) -> Diagnostic:
        """A diagnostic located at ``path`` inside this route's descriptor."""
        line, column = self.locate(path, key) if path else (self.line, self.column)
        return diagnostic(code, message, file=self.file, line=line, column=column, route=self.name)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def lint_route_set(docs: Sequence[RouteDocument]) -> list[Diagnostic]:
    """Problems between routes: duplicate names, shared hosts, shadowed prefixes."""
    found: list[Diagnostic] = []
    by_name: dict[str, RouteDocument] = {}
    for doc in docs:
        other = by_name.setdefault(doc.name, doc)
        if other is not doc:
            found.append(
                doc.diag(
                    "R010",
                    f"route `{doc.name}` is defined twice, at {other.where} and {doc.where}: "
                    "rename or remove one",
                )
            )
    by_host: dict[str, list[RouteDocument]] = defaultdict(list)
    for doc in docs:
        by_host[doc.spec.host].append(doc)
    for host, sharing in by_host.items():
        if len(sharing) > 1:
            found.extend(_check_shared_host(host, sharing))
    return found


def _check_shared_host(host: str, sharing: list[RouteDocument]) -> Iterator[Diagnostic]:
    first = sharing[0]
    for doc in sharing[1:]:
        yield doc.diag(
            "W102",
            f'host "{host}" is also served by route `{first.name}` ({first.where}): '
            "merge them into one route",
            ("host",),
        )
    owners: dict[str, RouteDocument] = {}
    for doc in sharing:
        for rule in doc.spec.paths:
            owners.setdefault(rule.prefix, doc)
    for doc in sharing:
        for index, prefix in enumerate(doc.prefixes):
            for cut in range(1, len(prefix) + 1):
                owner = owners.get(prefix[:cut])
                if owner is not None and owner.name != doc.name:
                    how = "also routed" if cut == len(prefix) else f'shadowed by "{prefix[:cut]}"'
                    yield doc.diag(
                        "W101",
                        f'prefix "{prefix}" is {how} by route `{owner.name}` ({owner.where}) '
                        "on the same host: keep each host's prefixes in one route",
                        ("routes", index, "prefix"),
                    )
                    break
