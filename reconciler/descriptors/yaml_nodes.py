"""Safe YAML via libyaml that keeps every node's line and column.

Documents are composed once with ``yaml.CSafeLoader`` and built into plain values in one
pass. The composed node graph is the location side table: a diagnostic resolves its path
back to a node only when one is reported, so valid files pay nothing for locations. (Node
graphs are not kept across a whole load: millions of live nodes make the garbage collector
dominate; ``compose_roots`` recomposes a file in the rare case a late check needs them.)
Aliases are never copied: a reused node is built once and its expanded size is counted,
so a "billion laughs" document is refused after a few thousand steps, not expanded.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.descriptors.yaml_depth import at_libyaml_limit, nesting, too_deep

ALIAS_EXPANSION_LIMIT = 10_000

_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_DELEGATED = {
    "tag:yaml.org,2002:int": SafeConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": SafeConstructor.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": SafeConstructor.construct_yaml_timestamp,
}
_TRUE = frozenset({"yes", "true", "on"})
_IN_PROGRESS = object()


class YamlProblem(Exception):
    """A located problem in one document; ``code`` is a ``reconciler.diagnostics`` code."""

    def __init__(self, code: str, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Document:
    """One YAML document: its plain value and the composed node it was built from."""

    value: Any
    root: Node

    @property
    def line(self) -> int:
        return int(self.root.start_mark.line) + 1


def position(node: Node) -> tuple[int, int]:
    """The 1-based (line, column) where ``node`` starts."""
    mark = node.start_mark
    return int(mark.line) + 1, int(mark.column) + 1


def parse_documents(content: bytes | str) -> tuple[list[Document], YamlProblem | None]:
    """Every document up to the first problem, and that problem (or None)."""
    documents: list[Document] = []
    deep = too_deep(content)
    if deep is not None:
        return documents, _nesting_problem(deep)
    star: str | bytes = "*" if isinstance(content, str) else b"*"
    builder = _Builder(aliases=star in content)  # type: ignore[operator]
    try:
        for root in yaml.compose_all(content, Loader=_Loader):
            if root is None:
                continue
            builder.reset()
            documents.append(Document(builder.build(root), root))
    except YamlProblem as problem:
        return documents, problem
    except yaml.MarkedYAMLError as exc:
        deep = at_libyaml_limit(content, exc)
        if deep is not None:
            return documents, _nesting_problem(deep)
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        if exc.context and exc.context_mark is not None:
            what += f" ({exc.context} at line {exc.context_mark.line + 1})"
        return documents, YamlProblem("R001", f"YAML syntax error: {what}", line, column)
    except yaml.YAMLError as exc:
        return documents, YamlProblem("R001", f"YAML syntax error: {exc}", 1, 1)
    except RecursionError:
        return documents, _nesting_problem(nesting(None))
    return documents, None


def _nesting_problem(where: tuple[int, int]) -> YamlProblem:
    message = "the document nests too deeply: a route descriptor needs fewer than ten levels"
    return YamlProblem("R003", message, *where)


def compose_roots(content: bytes | str) -> list[Node]:
    """The composed root node of every non-empty document (for locating after the fact)."""
    return [root for root in yaml.compose_all(content, Loader=_Loader) if root]


class _Loader(yaml.CSafeLoader):
    """CSafeLoader whose tag resolution skips the regex scan for scalars no implicit
    resolver can claim (those starting with a letter outside y/n/t/f/o, or "/" ...)."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0] and (not value or value[0] in _RESOLVABLE_FIRST):
                return yaml.CSafeLoader.resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call,no-any-return]
            return _STR
        return _SEQ if kind is SequenceNode else _MAP

    # Path resolvers are never registered, so descending and ascending do nothing; libyaml's
    # composer still calls both for every node (750,000 calls for 10,000 descriptors). A
    # builtin is no descriptor, so it is called as it is, and costs less than a Python
    # function: any builtin that takes those arguments and does nothing will do.
    # descend_resolver(parent, index) -> a bool nobody reads; ascend_resolver() -> ()
    descend_resolver = operator.is_  # type: ignore[assignment]
    ascend_resolver = tuple  # type: ignore[assignment]


_RESOLVABLE_FIRST = frozenset(first for first in _Loader.yaml_implicit_resolvers if first)


class _Builder:
    """Builds plain values from nodes; counts the nodes that aliases would add."""

    def __init__(self, aliases: bool) -> None:
        # Without a "*" in the file there is no alias, so nothing to count or share.
        self.aliases = aliases
        self.scalars = SafeConstructor()
        self.reset()

    def reset(self) -> None:
        self.memo: dict[int, tuple[Any, int]] = {}
        self.count = 0
        self.extra = 0

    def build(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            self.count += 1
            return node.value if node.tag == _STR else self._scalar(node)
        if not self.aliases:
            return self._mapping(node) if cls is MappingNode else self._sequence(node)
        key = id(node)
        seen = self.memo.get(key)
        if seen is not None:
            return self._reuse(node, seen)
        self.memo[key] = (_IN_PROGRESS, 0)
        start = self.count
        value = self._mapping(node) if cls is MappingNode else self._sequence(node)
        self.count += 1
        self.memo[key] = (value, self.count - start)
        return value

    def _sequence(self, node: Node) -> list[Any]:
        if node.tag != _SEQ:
            raise _unsupported(node)
        if self.aliases:
            return [self.build(item) for item in node.value]
        build = self.build
        return [
            item.value if item.tag == _STR and item.__class__ is ScalarNode else build(item)
            for item in node.value
        ]

    def _reuse(self, node: Node, seen: tuple[Any, int]) -> Any:
        value, size = seen
        line, column = position(node)
        if value is _IN_PROGRESS:
            raise YamlProblem("R003", "an alias refers to its own anchor", line, column)
        self.count += size
        self.extra += size
        if self.extra > ALIAS_EXPANSION_LIMIT:
            raise YamlProblem(
                "R003",
                f"aliases expand past {ALIAS_EXPANSION_LIMIT:,} nodes; "
                "write the values out or use fewer nested aliases",
                line,
                column,
            )
        return value

    def _scalar(self, node: Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _BOOL:
            return node.value.lower() in _TRUE
        if tag == _NULL:
            return None
        construct = _DELEGATED.get(tag)
        if construct is None:
            raise _unsupported(node)
        try:
            return construct(self.scalars, node)  # type: ignore[arg-type]
        except (ConstructorError, ValueError) as exc:
            line, column = position(node)
            kind = tag.rsplit(":", 1)[-1]
            raise YamlProblem("R001", f"invalid {kind}: {exc}", line, column) from None

    def _mapping(self, node: Node) -> dict[str, Any]:
        if node.tag != _MAP:
            raise _unsupported(node)
        out: dict[str, Any] = {}
        merged: list[dict[str, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge_sources(value_node))
                continue
            if key_node.__class__ is not ScalarNode:
                line, column = position(key_node)
                raise YamlProblem("R019", "mapping keys must be plain words", line, column)
            key = key_node.value
            if key in out:
                line, column = position(key_node)
                raise YamlProblem(
                    "R002", f"duplicate key `{key}`: remove one of the two", line, column
                )
            if not self.aliases and value_node.tag == _STR and value_node.__class__ is ScalarNode:
                out[key] = value_node.value
            else:
                self.count += 1
                out[key] = self.build(value_node)
        if merged:
            base: dict[str, Any] = {}
            for source in reversed(merged):  # earlier merge sources win, as in YAML 1.1
                base.update(source)
            base.update(out)
            return base
        return out

    def _merge_sources(self, node: Node) -> list[dict[str, Any]]:
        sources = node.value if node.__class__ is SequenceNode else [node]
        built = [self.build(source) for source in sources]
        if not all(isinstance(source, dict) for source in built):
            line, column = position(node)
            raise YamlProblem("R019", "`<<` can only merge mappings", line, column)
        return built


def _unsupported(node: Node) -> YamlProblem:
    line, column = position(node)
    return YamlProblem("R019", f"unsupported YAML tag `{node.tag}`", line, column)


def locate(root: Node, path: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
    """The (line, column) of the node at ``path``, or of the deepest node on the way to it.

    With ``key`` the last step points at the mapping key rather than its value (an unknown
    field is the key's fault, a bad value the value's).
    """
    node = root
    for depth, step in enumerate(path):
        found = _child(node, step, key=key and depth == len(path) - 1)
        if found is None:
            break
        node = found
    return position(node)


def _child(node: Node, step: str | int, *, key: bool) -> Node | None:
    if isinstance(node, SequenceNode) and isinstance(step, int):
        return node.value[step] if 0 <= step < len(node.value) else None
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            continue
        if isinstance(key_node, ScalarNode) and key_node.value == str(step):
            return key_node if key else value_node
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                found = _child(source, step, key=key)
                if found is not None:
                    return found
    return None
