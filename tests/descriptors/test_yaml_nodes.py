"""Nesting limits: R003 for too-deep documents whichever libyaml PyYAML ships.

libyaml 0.2.5 has no nesting limit of its own; 0.2.6 (PyYAML 6.0.4) refuses past 1,000
levels with a plain syntax error. Both sides of the limit are pinned here, for flow and
block style, in files small enough to skip the depth pre-scan and large enough to take it.
"""

from __future__ import annotations

import pytest

from reconciler.descriptors.yaml_depth import MAX_DEPTH, SMALL_FILE
from reconciler.descriptors.yaml_nodes import parse_documents

PAD = b"#" * (SMALL_FILE + 1) + b"\n"


def _flow(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _block(depth: int) -> bytes:
    return b"- " * depth + b"x\n"


@pytest.mark.parametrize("style", [_flow, _block], ids=["flow", "block"])
@pytest.mark.parametrize("pad", [b"", PAD], ids=["small", "large"])
@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 60_000])
def test_too_deep_is_r003(style, pad: bytes, depth: int) -> None:  # type: ignore[no-untyped-def]
    _, problem = parse_documents(pad + style(depth))
    assert problem is not None
    assert problem.code == "R003", problem.message
    assert "nests too deeply" in problem.message


@pytest.mark.parametrize("style", [_flow, _block], ids=["flow", "block"])
@pytest.mark.parametrize("pad", [b"", PAD], ids=["small", "large"])
def test_ordinary_nesting_loads(style, pad: bytes) -> None:  # type: ignore[no-untyped-def]
    documents, problem = parse_documents(pad + style(20))
    assert problem is None
    assert len(documents) == 1


@pytest.mark.parametrize("pad", [b"", PAD], ids=["small", "large"])
def test_an_unclosed_bracket_stays_a_syntax_error(pad: bytes) -> None:
    _, problem = parse_documents(pad + b"a: [b, c\n" + b"x: [" * 5)
    assert problem is not None
    assert problem.code == "R001"
