"""An exported descriptor reads byte for byte as PyYAML's own emitter writes it, whichever
emitter wrote it: libyaml where it agrees, PyYAML's everywhere else.

The reference is what ``routes export`` wrote before libyaml: ``yaml.safe_dump(doc,
sort_keys=False, allow_unicode=True)``. Strings are drawn hostile on purpose: every Unicode
category, YAML indicators, words YAML reads as booleans, numbers, dates or null, long text
that folds, keys either side of the simple-key limit.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.descriptor_yaml import descriptor_yaml, libyaml_text
from tests.strategies import descriptors

LIBYAML = getattr(yaml, "CSafeDumper", None)

# Each of these once made the two emitters disagree, or sits where YAML reads a plain word
# as something else: the reference must be kept on all of them.
EDGE_STRINGS = [
    "",
    " ",
    "  ",
    "a ",
    " a",
    "a  b",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "true",
    "True",
    "null",
    "Null",
    "~",
    "1",
    "-1",
    "0o17",
    "0x1F",
    "1_000",
    "1e3",
    "1.5",
    ".inf",
    "-.Inf",
    ".nan",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "12:30:00",
    "=",
    "<<",
    "-",
    "--",
    "---",
    "...",
    "--- x",
    "? x",
    ": x",
    "a: b",
    "a:b",
    "a #b",
    "a#b",
    "#",
    "- x",
    "!x",
    "&x",
    "*x",
    "%x",
    "@x",
    "`x",
    "|",
    ">",
    "[x]",
    "{x}",
    "a, b",
    "'",
    "''",
    '"',
    "a'b",
    'a"b',
    "\\",
    "\t",
    "a\tb",
    "\n",
    "a\n",
    "\na",
    "a\nb",
    "a\n\nb",
    "a \nb",
    "a\n b",
    "\r",
    "a\r\nb",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\xa0",
    "\u2028",
    "\u2029",
    "\u200b",
    "\u202e",
    "\ufeff",
    "\ufffd",
    "\ue000",
    "\ud7ff",
    "é",
    "bücher.example",
    "日本語",
    "😀",
    "a😀b",
    "\U0001d518",
    "x" * 79,
    "x" * 80,
    "x" * 81,
    "x" * 300,
    "word " * 40,
    " word" * 40,
    "é " * 60,
    "a\tb " * 30,
    "::error::x",
    "##[group]x",
    "/api/v1/{id}",
    "^/a(b|c)*$",
    "sha256:" + "A" * 44,
    "a" * 120,
    "a" * 122,
    "a" * 123,
    "a" * 127,
    "a" * 128,
    "é" * 64,
]

_ALPHABETS = [
    st.characters(),  # every code point a str can hold but a lone surrogate
    st.characters(max_codepoint=0x7F),
    st.characters(max_codepoint=0xFFFF, categories=["L", "M", "N", "P", "S", "Zs"]),
    st.sampled_from(" :#-?,[]{}'\"!&*%@`|>\\\t\n"),
]
_texts = st.one_of(
    st.sampled_from(EDGE_STRINGS),
    *(st.text(alphabet, max_size=40) for alphabet in _ALPHABETS),
    *(st.text(alphabet, min_size=60, max_size=300) for alphabet in _ALPHABETS),
)
_scalars = st.one_of(_texts, st.booleans(), st.none(), st.integers(), st.floats(allow_nan=False))
_keys = st.one_of(
    _texts,
    st.integers(100, 140).flatmap(lambda n: st.text("aé ", min_size=n, max_size=n)),
)
values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)
documents = st.one_of(st.dictionaries(_keys, values, max_size=5), values)


def _reference(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
@example({"host": "😀"})
@example({"k": "a\tb " * 30})
@example({"é " * 60: "v"})
@example({"a" * 128: "v"})
def test_a_document_is_written_as_pyyaml_writes_it(document: Any) -> None:
    assert descriptor_yaml(document) == _reference(document)


@pytest.mark.skipif(LIBYAML is None, reason="PyYAML built without libyaml")
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_libyaml_writes_what_pyyaml_writes_wherever_it_is_used(document: Any) -> None:
    text = libyaml_text(document)
    if text is not None:
        assert text == _reference(document)


@pytest.mark.skipif(LIBYAML is None, reason="PyYAML built without libyaml")
@pytest.mark.parametrize("text", EDGE_STRINGS, ids=repr)
def test_every_edge_string_as_key_value_and_item(text: str) -> None:
    for document in ({"k": text}, {text: "v"}, {"l": [text, {"k": text}]}, {"m": {text: [text]}}):
        assert descriptor_yaml(document) == _reference(document)
        assert libyaml_text(document) in (None, _reference(document))


def test_a_list_or_mapping_met_twice_is_still_an_alias() -> None:
    shared: list[Any] = ["GET"]
    inner = {"k": shared}
    for document in ({"a": shared, "b": shared}, {"a": inner, "b": [inner]}):
        assert descriptor_yaml(document) == _reference(document)
        assert "&id001" in descriptor_yaml(document)


def test_other_types_are_left_to_pyyaml() -> None:
    for document in ({"t": (1, 2)}, {1: "one"}, {None: "x"}, {"f": 1e17, "i": -3, "n": None}):
        assert descriptor_yaml(document) == _reference(document)


@pytest.mark.skipif(LIBYAML is None, reason="PyYAML built without libyaml")
@given(descriptors(), st.sampled_from(["bare", "project"]))
def test_route_descriptors_take_the_fast_emitter(descriptor: dict[str, Any], form: str) -> None:
    # The speed of `routes export` rests on this: a descriptor in either form, with only
    # what a real route holds, is one libyaml writes (and, as above, writes identically).
    document = descriptor if form == "bare" else {"metadata": {"name": "x"}, "spec": descriptor}
    assert libyaml_text(document) == _reference(document)
