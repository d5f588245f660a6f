"""A descriptor document -> YAML text, as ``yaml.safe_dump(doc, sort_keys=False,
allow_unicode=True)`` writes it, at libyaml's speed.

libyaml's emitter (``CSafeDumper``) writes the same bytes as PyYAML's own for almost every
document, and with the nodes built here rather than by PyYAML's representer a dump takes a
fraction of the time. The two emitters differ only where both treat a string as special: a
character outside the Basic Multilingual Plane (libyaml escapes an emoji, PyYAML writes
it), a control or line-break character (libyaml folds a long double-quoted string
elsewhere, and takes ``\\x85`` for a break), and a mapping key empty or near 128 characters
(the two decide differently whether it may be a simple key). A document with any of those
goes through PyYAML's emitter, every other through libyaml: the output never depends on
which one ran (tests/test_descriptor_yaml.py compares them over generated and hostile
documents).
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

__all__ = [
    "descriptor_yaml",
    "libyaml_text",
]

_LIBYAML: type[yaml.SafeDumper] | None = getattr(yaml, "CSafeDumper", None)
# Well below either emitter's simple-key limit (PyYAML: 128 characters with "!!str"
# counted; libyaml: 128 bytes).
_KEY_BYTES = 100
_BMP_END = "\uffff"
_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"


def descriptor_yaml(document: Any) -> str:
    """``document`` as block YAML, keys in their order, unicode written as itself."""
    text = libyaml_text(document)
    if text is not None:
        return text
    return yaml.dump(document, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True)


def libyaml_text(document: Any) -> str | None:
    """``document`` written by libyaml, or None where libyaml might write it otherwise than
    PyYAML's emitter: a mapping whose every string is printable BMP text (every key a short
    non-empty one), scalars only strings, booleans, numbers and None, nothing met twice."""
    # A mapping at the root: a bare scalar ends its document with "..." in PyYAML only.
    if _LIBYAML is None or type(document) is not dict:
        return None
    stream = io.StringIO()
    dumper = _DescriptorDumper(stream, allow_unicode=True, sort_keys=False)
    try:
        node = _node(dumper, document, set())
        dumper.open()
        dumper.serialize(node)
        dumper.close()
    except _DisagreementError:
        return None
    finally:
        dumper.dispose()
    return stream.getvalue()


class _DisagreementError(Exception):
    """A value the two emitters may write differently (or PyYAML writes as an alias)."""


def _node(dumper: yaml.SafeDumper, data: Any, seen: set[int]) -> Node:
    # What SafeRepresenter builds with default_flow_style=False, without its per-node
    # lookups: the representer, not the emitter, is most of a dump's time.
    kind = type(data)
    if kind is str:
        if not _plain_text(data):
            raise _DisagreementError
        return ScalarNode(_STR, data)
    if kind is dict or kind is list:
        if id(data) in seen:  # PyYAML writes an anchor and an alias
            raise _DisagreementError
        seen.add(id(data))
        if kind is list:
            items = [_node(dumper, item, seen) for item in data]
            return SequenceNode(Resolver.DEFAULT_SEQUENCE_TAG, items, flow_style=False)
        pairs = [(_key(key), _node(dumper, value, seen)) for key, value in data.items()]
        return MappingNode(Resolver.DEFAULT_MAPPING_TAG, pairs, flow_style=False)
    if kind is bool:
        return ScalarNode(_BOOL, "true" if data else "false")
    if data is None or kind is int or kind is float:
        node: Node = dumper.represent_data(data)
        return node
    raise _DisagreementError  # anything else is PyYAML's to represent (or refuse)


def _key(key: Any) -> ScalarNode:
    # PyYAML writes an empty key as a complex one ("? ''"), libyaml not; near 128 characters
    # the two decide differently whether a key may be simple (libyaml counts UTF-8 bytes,
    # PyYAML adds "!!str" to the length).
    if type(key) is not str or not key or not _plain_text(key):
        raise _DisagreementError
    if len(key) > _KEY_BYTES // 4 and len(key.encode("utf-8")) > _KEY_BYTES:
        raise _DisagreementError
    return ScalarNode(_STR, key)


def _plain_text(text: str) -> bool:
    # str.isprintable refuses controls, separators other than space, format characters
    # (the BOM, bidi marks), surrogates and unassigned code points: every character the two
    # emitters escape or break on differently, save those beyond the BMP.
    return text.isprintable() and (text.isascii() or max(text) <= _BMP_END)


class _DescriptorDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's safe dumper with the tag of each plain scalar looked up once per export."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _plain_tag(value) if implicit[0] else Resolver.DEFAULT_SCALAR_TAG
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]


@lru_cache(maxsize=8192)
def _plain_tag(value: str) -> str:
    # Resolver.resolve for a plain scalar (a safe dumper has no path resolvers); hosts,
    # prefixes and services repeat across an export.
    first = value[0] if value else ""
    resolvers = Resolver.yaml_implicit_resolvers
    for tag, pattern in [*resolvers.get(first, []), *resolvers.get(None, [])]:
        if pattern.match(value):
            return str(tag)
    return Resolver.DEFAULT_SCALAR_TAG
