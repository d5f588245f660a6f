"""Routing pictures: a hostile name is only ever a label, shown as written."""

from __future__ import annotations

import re

import pytest

from reconciler.render.mermaid import (
    MAX_EDGES,
    dot_label,
    mermaid_label,
    plan_flowchart,
    table_dot,
    table_flowchart,
)

HOSTILE = [
    'a"] --> x["pwned',
    "/a`b```c",
    "<img src=x onerror=alert(1)>",
    "x\n  click h1 call evil()",
    "#35; %% comment ;",
    "\x1b[2J\u202e",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_mermaid_labels_are_one_quoted_string_of_inert_characters(value: str) -> None:
    label = mermaid_label(value)
    inner = label[1:-1]
    assert label.startswith('"') and label.endswith('"')
    # Nothing left that Mermaid, HTML or the Markdown fence would act on.
    assert re.fullmatch(r"[A-Za-z0-9 ./\-_:#;]*", inner), inner
    assert "`" not in inner and "\n" not in inner and '"' not in inner


def test_mermaid_entity_codes_stand_for_the_characters() -> None:
    assert mermaid_label('say "hi" #1') == '"say #quot;hi#quot; #35;1"'
    assert mermaid_label("<b>&") == '"#lt;b#gt;#amp;"'


@pytest.mark.parametrize("value", HOSTILE)
def test_dot_labels_escape_quotes_and_backslashes(value: str) -> None:
    label = dot_label(value)
    body = label[1:-1]
    assert re.fullmatch(r'(?:[^"\\\n]|\\["\\])*', body), body


def test_a_table_draws_host_prefix_and_service_once_each() -> None:
    rules = [("h.acme.org", "/a", "svc"), ("h.acme.org", "/b", "svc")]
    chart = table_flowchart(rules)
    assert chart.splitlines() == [
        "flowchart LR",
        '  h1["h.acme.org"]',
        '  p2["/a"]',
        '  s3["svc"]',
        "  h1 --> p2",
        "  p2 --> s3",
        '  p4["/b"]',
        "  h1 --> p4",
        "  p4 --> s3",
    ]
    dot = table_dot(rules)
    assert dot.startswith("digraph routes {") and dot.endswith("}")
    assert '  s3 [label="svc", shape=ellipse];' in dot.splitlines()


def test_a_plan_picture_marks_added_removed_and_retargeted_edges() -> None:
    def dest(service: str, prefix: str = "/a") -> dict[str, str]:
        return {"route": "r", "prefix": prefix, "service": service}

    plan = {
        "traffic": [
            {
                "host": "h.acme.org",
                "moves": [],
                "rules": [
                    {"prefix": "/a", "before": dest("old"), "after": dest("new")},
                    {"prefix": "/b", "before": None, "after": dest("b", "/b")},
                    {"prefix": "/c", "before": dest("c", "/c"), "after": None},
                ],
            }
        ]
    }
    lines = plan_flowchart(plan).splitlines()
    assert '  p2 -.->|"was"| s3' in lines
    assert '  p2 ==>|"retargeted"| s4' in lines
    assert '  p5 ==>|"added"| s6' in lines
    assert '  p7 -.->|"removed"| s8' in lines
    styled = [line for line in lines if line.startswith("  linkStyle")]
    assert styled == [
        "  linkStyle 1 stroke:#cf222e,stroke-dasharray:4",
        "  linkStyle 2 stroke:#1a7f37",
        "  linkStyle 4 stroke:#1a7f37",
        "  linkStyle 6 stroke:#cf222e,stroke-dasharray:4",
    ]
    assert plan_flowchart({"traffic": []}) == ""


def test_a_huge_table_is_cut_and_says_so() -> None:
    rules = [("h.acme.org", f"/p{i}", "svc") for i in range(MAX_EDGES + 5)]
    chart = table_flowchart(rules)
    assert chart.endswith('more["5 more rules not drawn"]')
