"""Values shown to people, made safe for a terminal, a CI log or a comment.

Terraform's way: a value is shown quoted, with every character a terminal or log would
act on escaped (newline, ESC, BEL, the C1 controls, bidi overrides, zero-width marks), so a
hostile name can neither move the cursor, forge a line nor hide text. The GitHub runner
also acts on text in a log line: `::command::` where a line starts (after its leading
space) and the old `##[command]` anywhere; both are broken up as well.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Callable

__all__ = [
    "clean",
    "escape",
    "json_text",
    "quote",
    "unsafe_char",
]

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}
# Cc control, Cf format (bidi overrides, zero-width), Cs surrogate, Co private use,
# Cn unassigned, Zl/Zp line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def unsafe_char(text: str) -> str | None:
    """The first character of ``text`` that must not reach a terminal raw, or None."""
    if text.isascii() and text.isprintable():
        return None
    for char in text:
        if unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return char
    return None


# A plan of 10,000 routes shows the same few services and prefixes 100,000 times, so short
# texts are remembered; long ones are not, so the memory kept stays small whatever a
# long-running ``routes serve`` is sent to quote.
_REMEMBERED = 256


def escape(text: str) -> str:
    """``text`` with backslash, double quote and every unsafe character escaped."""
    return _escape_remembered(text) if len(text) <= _REMEMBERED else _escape(text)


def quote(text: object) -> str:
    """``text`` as a double-quoted, escaped string: ``"a\\nb"``."""
    text = text if type(text) is str else str(text)
    return _quoted(text) if len(text) <= _REMEMBERED else f'"{_escape(text)}"'


def _escape(text: str) -> str:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return _no_runner_commands(text)
    return _no_runner_commands("".join(_escape_char(char) for char in text))


_escape_remembered = functools.lru_cache(maxsize=4096)(_escape)


@functools.lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    return f'"{_escape(text)}"'


def clean(text: object) -> str:
    """``text`` unquoted, escaped only where it holds unsafe characters (paths, names)."""
    return _clean(str(text))


@functools.lru_cache(maxsize=4096)
def _clean(shown: str) -> str:
    if unsafe_char(shown) is None:
        return _no_runner_commands(shown)
    return escape(shown)


def json_text(
    value: object,
    *,
    indent: int | None = 2,
    default: Callable[[object], object] | None = None,
) -> str:
    """``value`` as JSON a terminal or CI log can show: ASCII (every control, separator and
    bidi character escaped) and no ``##[`` (a JSON escape keeps the value exact).
    ``default`` stands in for what JSON cannot hold, as for ``json.dumps``."""
    text = json.dumps(value, indent=indent, ensure_ascii=True, default=default)
    return text.replace("##[", "##\\u005b")


def _no_runner_commands(text: str) -> str:
    if "##[" in text:
        text = text.replace("##[", "##\\u005b")
    if text.lstrip().startswith("::"):
        at = text.index("::")
        text = text[:at] + "\\u003a" + text[at + 1 :]
    return text


def _escape_char(char: str) -> str:
    short = _SHORT.get(char)
    if short is not None:
        return short
    if unicodedata.category(char) in _UNSAFE_CATEGORIES:
        code = ord(char)
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char
