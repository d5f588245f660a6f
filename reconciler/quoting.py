"""Values shown to people, made safe for a terminal, a CI log or a comment.

Terraform's way: a value is shown quoted, with every character a terminal or log would
act on escaped (newline, ESC, BEL, the C1 controls, bidi overrides, zero-width marks), so a
hostile name can neither move the cursor, forge a line nor hide text.
"""

from __future__ import annotations

import unicodedata

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


def escape(text: str) -> str:
    """``text`` with backslash, double quote and every unsafe character escaped."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return "".join(_escape_char(char) for char in text)


def quote(text: object) -> str:
    """``text`` as a double-quoted, escaped string: ``"a\\nb"``."""
    return f'"{escape(str(text))}"'


def clean(text: object) -> str:
    """``text`` unquoted, escaped only where it holds unsafe characters (paths, names)."""
    shown = str(text)
    return shown if unsafe_char(shown) is None else escape(shown)


def _escape_char(char: str) -> str:
    short = _SHORT.get(char)
    if short is not None:
        return short
    if unicodedata.category(char) in _UNSAFE_CATEGORIES:
        code = ord(char)
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char
