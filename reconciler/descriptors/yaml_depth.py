"""How deep a YAML document nests, whichever libyaml is installed.

Only the depth: what a too-deep document means for a descriptor (R003) is the caller's.
"""

from __future__ import annotations

import yaml

# (line, column) where a document is found to nest too deeply.
Nesting = tuple[int, int]

# libyaml's composer recurses in C and crashes the process past ~20,000 levels; a file of
# SMALL_FILE bytes cannot nest deeper than that many levels, so only larger files pay for a
# depth scan over the (iterative, crash-free) event stream first. libyaml 0.2.6 and newer
# stop at a depth limit of their own (0.2.6: 1,000 block or 1,001 flow levels) with a plain
# syntax error; a syntax error met after nesting MAX_DEPTH - 1 levels is that limit, so
# too-deep nesting is R003 whichever libyaml is installed. (Assumed: no libyaml sets its
# limit below MAX_DEPTH; tests/descriptors/test_yaml_nodes.py pins both sides of the limit.)
SMALL_FILE = 8192
MAX_DEPTH = 1000


def too_deep(content: bytes | str) -> Nesting | None:
    """Where ``content`` nests past MAX_DEPTH, counted on the event stream, or None."""
    if len(content) <= SMALL_FILE:
        return None
    deepest, error = _event_depth(content)
    if deepest > MAX_DEPTH:
        return nesting(None)
    if isinstance(error, yaml.MarkedYAMLError):
        return at_libyaml_limit(content, error, deepest)
    return None  # compose reports any syntax error with its location


def _event_depth(
    content: bytes | str, loader: type = yaml.CSafeLoader
) -> tuple[int, yaml.YAMLError | None]:
    """How deep the event stream nests (counted to MAX_DEPTH + 1), and the error that
    stopped it, if any."""
    depth = deepest = 0
    try:
        for event in yaml.parse(content, Loader=loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
                if depth > MAX_DEPTH:
                    break
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        return deepest, exc
    return deepest, None


def at_libyaml_limit(
    content: bytes | str, error: yaml.MarkedYAMLError, deepest: int | None = None
) -> Nesting | None:
    """Where libyaml's syntax ``error`` is its own nesting limit, else None.

    Block nesting shows in the events libyaml emitted before it stopped (``deepest``);
    flow nesting is refused by its scanner before any event, so an unbalanced run of
    brackets before the error is confirmed with the pure-Python parser (which has no limit)
    on that text only.
    """
    mark = error.problem_mark or error.context_mark
    if mark is None:
        return None
    if deepest is None:
        deepest, _ = _event_depth(content)
    if deepest < MAX_DEPTH - 1:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        head = text[: mark.index + 1]
        if head.count("[") + head.count("{") - head.count("]") - head.count("}") < MAX_DEPTH - 1:
            return None
        deepest, _ = _event_depth(head, loader=yaml.SafeLoader)
    return nesting(mark) if deepest >= MAX_DEPTH - 1 else None


def nesting(mark: yaml.Mark | None) -> Nesting:
    """The (line, column) of a too-deep document: at ``mark``, or its start."""
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)
