"""Values shown to people are escaped the way Terraform shows them: quoted, controls escaped."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from reconciler.apply.journal import Journal, read_journal
from reconciler.diagnostics import diagnostic
from reconciler.quoting import clean, escape, quote, unsafe_char
from reconciler.render.diagnostics import render_github, render_text
from reconciler.render.text import diagnostic_line
from tests.http_server import running_server

HOSTILE = [
    ("newline", "a\n::error::forged", r'"a\n::error::forged"'),
    ("carriage return", "a\rb", r'"a\rb"'),
    ("tab", "a\tb", r'"a\tb"'),
    ("ESC title and clear", "/\x1b]0;title\x07\x1b[2J", r'"/\u001b]0;title\u0007\u001b[2J"'),
    ("C1 CSI", "a\x9b31m", r'"a\u009b31m"'),
    ("DEL", "a\x7fb", r'"a\u007fb"'),
    ("bidi override", "abc\u202etxt.exe", r'"abc\u202etxt.exe"'),
    ("zero width", "ad\u200bmin", r'"ad\u200bmin"'),
    ("line separator", "a\u2028b", r'"a\u2028b"'),
    ("quote and backslash", 'a"b\\c', r'"a\"b\\c"'),
    ("plain", "shopping-cart", '"shopping-cart"'),
    ("non-ASCII letters stay", "bücher.de", '"bücher.de"'),
]


@pytest.mark.parametrize(("label", "raw", "shown"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_quote_escapes_what_a_terminal_would_act_on(label: str, raw: str, shown: str) -> None:
    assert quote(raw) == shown
    assert quote(raw)[1:-1] == escape(raw)


@pytest.mark.parametrize(("label", "raw", "shown"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_clean_leaves_safe_text_alone_and_escapes_the_rest(
    label: str, raw: str, shown: str
) -> None:
    cleaned = clean(raw)
    assert unsafe_char(cleaned) is None
    if unsafe_char(raw) is None:
        assert cleaned == raw


def test_diagnostics_with_a_hostile_file_name_render_on_one_line() -> None:
    bad = diagnostic(
        "R009",
        "route name is invalid",
        file="routes/z\n::error file=x::ok\x1b[2J.yaml",
        line=1,
        column=1,
    )
    for text in (render_text([bad]), diagnostic_line(bad.to_dict()), render_github([bad])):
        lines = [line for line in text.splitlines() if line]
        assert not any(line.startswith("::error file=x") for line in lines), text
        assert "\x1b" not in text


def test_the_access_log_escapes_a_decoded_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running_server(tmp_path / "state.db") as server, caplog.at_level(logging.INFO):
        httpx.get(server.url + "/v1/routes/a%0A2026-01-01%20GET%20/forged%20200%1B%5B2J")
    lines = [r.getMessage() for r in caplog.records if r.name == "reconciler.server.access"]
    assert lines, caplog.records
    assert all("\n" not in line and "\x1b" not in line for line in lines), lines
    assert any(r"a\n2026-01-01" in line for line in lines), lines


def test_journal_lines_are_ascii(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.event("route", route="shop", message="a\x9b2J\u2028b\x1b]0;t\x07")
    journal.close()
    (path,) = tmp_path.glob("*.jsonl")
    raw = path.read_bytes()
    assert raw.isascii() and b"\x1b" not in raw
    (record,) = [r for r in read_journal(path) if r.get("kind") == "route" or r.get("route")]
    assert record["message"] == "a\x9b2J\u2028b\x1b]0;t\x07"  # escaped in the file, exact once read
    assert json.loads(raw.splitlines()[-1])["message"] == record["message"]


@pytest.mark.parametrize(
    "raw",
    [
        "::error::forged",
        "  ::warning title=x::y",
        "\t::add-mask::secret",
        "a ##[add-mask]b",
        "##[error]x",
    ],
)
def test_no_github_runner_command_survives(raw: str) -> None:
    """The runner trims a line before looking for `::` and finds `##[` anywhere in it."""
    for shown in (clean(raw), quote(raw), escape(raw)):
        assert not shown.strip().strip('"').lstrip().startswith("::"), shown
        assert "##[" not in shown, shown


def test_ordinary_colons_are_left_alone() -> None:
    assert clean("listening on [::1]:8900") == "listening on [::1]:8900"
    assert clean("std::string") == "std::string"


def test_a_long_text_is_escaped_as_a_short_one_is() -> None:
    # Texts past 256 characters take the path that is not remembered: same escaping.
    hostile = "a\x1b[31m\n::error::x\u202e"
    long = hostile * 40
    assert quote(long) == '"' + escape(hostile) * 40 + '"'
    assert escape(long) == escape(hostile) * 40
