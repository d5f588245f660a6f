"""Diagnostics rendered as text, JSON and GitHub workflow commands."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.descriptors.loader import load_paths
from reconciler.diagnostics import Diagnostic
from reconciler.render.diagnostics import render_github, render_json, render_text

FIXTURES = Path(__file__).parents[1] / "fixtures"

PREFIX = Diagnostic(
    "R012", "error", 'prefix must start with "/" (got "carts")', "routes/shop.yaml", 4, 5, "shop"
)
CORS = Diagnostic("W103", "warning", "CORS origin `*`: list origins", "routes/a.yaml", 3, 18, "a")
SKIP = Diagnostic("I201", "info", "skipped a `Service` document", "project.yaml", 1, 11)
MISSING = Diagnostic("R008", "error", "routes does not exist: fix the path", "routes")


def test_text_lines_and_summary() -> None:
    text = render_text([PREFIX, CORS, SKIP, MISSING], files_checked=3)
    assert text.splitlines() == [
        "project.yaml:1:11: info I201: skipped a `Service` document",
        "routes: error R008: routes does not exist: fix the path",
        "routes/a.yaml:3:18: warning W103: CORS origin `*`: list origins",
        'routes/shop.yaml:4:5: error R012: prefix must start with "/" (got "carts")',
        "2 errors, 1 warning, 1 note in 3 files",
    ]


def test_text_summary_when_clean_and_singular() -> None:
    assert render_text([], files_checked=4) == "0 errors, 0 warnings in 4 files\n"
    assert render_text([PREFIX]).splitlines()[-1] == "1 error, 0 warnings in 1 file"


def test_json_document() -> None:
    document = json.loads(render_json([CORS, PREFIX], files_checked=7))
    assert document["summary"] == {"errors": 1, "warnings": 1, "infos": 0, "files": 7}
    assert document["diagnostics"][1] == {
        "code": "R012",
        "severity": "error",
        "message": 'prefix must start with "/" (got "carts")',
        "file": "routes/shop.yaml",
        "line": 4,
        "column": 5,
        "route": "shop",
    }


def test_github_commands_and_escaping() -> None:
    tricky = Diagnostic("R001", "error", "100% bad\r\nline two", "dir,a/b:c.yaml", 2, 3)
    lines = render_github([PREFIX, tricky, SKIP, CORS, MISSING]).splitlines()
    assert lines == [
        "::error file=dir%2Ca/b%3Ac.yaml,line=2,col=3,title=R001::100%25 bad%0D%0Aline two",
        "::notice file=project.yaml,line=1,col=11,title=I201::skipped a `Service` document",
        "::error file=routes,title=R008::routes does not exist: fix the path",
        "::warning file=routes/a.yaml,line=3,col=18,title=W103::CORS origin `*`: list origins",
        '::error file=routes/shop.yaml,line=4,col=5,title=R012::prefix must start with "/" '
        '(got "carts")',
    ]


def test_renders_real_load_results() -> None:
    result = load_paths([FIXTURES / "bad" / "prefix-without-slash.yaml"], root=FIXTURES)
    text = render_text(result.diagnostics, files_checked=len(result.files))
    assert text == (
        'bad/prefix-without-slash.yaml:6:11: error R012: prefix must start with "/" '
        '(got "carts")\n1 error, 0 warnings in 1 file\n'
    )
