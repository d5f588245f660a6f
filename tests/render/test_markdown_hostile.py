"""Hostile plans rendered by GitHub's own Markdown library (cmark-gfm, through `cmarkgfm`):
every change stays visible, and no HTML element, comment, link or mention comes from content.

GitHub renders a comment with cmark-gfm, then links `@user` and `#123` in the text of the
HTML it got (code and links excepted), then sanitizes. The renderer runs here with raw HTML
allowed, so whatever content could slip into the HTML shows up.
"""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from reconciler.diagnostics import Diagnostic
from reconciler.integrations.github.comment import marker
from reconciler.render.markdown import render_plan_markdown
from tests.render.plan_fixture import DESIRED, LINT, LIVE, OPTIONS, build_plan

FAKE_NOTE = "z\n\n> Only the new docs route below changes.\n\n<!--"
HOSTILE = [
    FAKE_NOTE,
    "x --->",
    "`a` `` b ``` c",
    "@octocat and @acme/security-team",
    "fixes #1 and acme/gitops#2",
    "<img src=x onerror=alert(1)> <script>alert(1)</script>",
    "[approved](https://evil.example) ![i](https://evil.example/i.png)",
    "https://evil.example www.evil.example a@evil.example xmpp:a@evil.example",
    "</summary></details><details open>",
    '\u2028+ path "/admin" -> attacker-svc',
    "\n```\n+ forged line\n```",
    "~~~\n| a | b |\n|---|---|",
    "**bold** _em_ ~~gone~~ &amp; &#64;x \\",
]
ALLOWED_TAGS = {"p", "strong", "code", "h3", "ul", "li", "details", "summary", "pre", "span"}
MENTION = re.compile(r"(?:^|\W)@[A-Za-z0-9]")
REFERENCE = re.compile(r"(?:^|[^\w/])#\d|\w/\w+#\d")


class _Html(HTMLParser):
    """Tags, comments, and text (outside code, pre and a, where GitHub looks for links)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.comments: list[str] = []
        self.prose: list[str] = []
        self.text: list[str] = []
        self._inert = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._inert += tag in ("code", "pre", "a")

    def handle_endtag(self, tag: str) -> None:
        self._inert -= tag in ("code", "pre", "a")

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if not self._inert:
            self.prose.append(data)


def _render(markdown: str) -> _Html:
    html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    parsed = _Html()
    parsed.feed(html)
    return parsed


def _hostile_plan(value: str) -> dict[str, Any]:
    desired = {**DESIRED, "shop": {**DESIRED["shop"], "routes": [
        {"prefix": "/carts", "route": {"service": "attacker-svc"}},
    ]}}  # fmt: skip
    desired["api"] = {**desired["api"], "validation": {"httpBasic": {
        "realm": value, "passwordHashes": {"admin": "sha256:" + "A" * 43 + "="}}}}  # fmt: skip
    live = {**LIVE, "taken": (LIVE["taken"][0], {"routes/owner": value})}
    lint = dataclasses.replace(LINT, message=value, file=f"routes/{value}/api.yaml")
    options = dataclasses.replace(OPTIONS, diagnostics=(lint, LINT))
    plan = {**build_plan(desired, live, options).to_dict(), "owner": value, "backend": value}
    hostile = dict(plan["changes"][0], route=value, reason=value, risks=[value])
    plan["changes"].append({**hostile, "action": "delete"})
    plan["diagnostics"].append(Diagnostic("R001", "error", value, route=value).to_dict())
    return plan


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_render_inert_and_hide_no_change(value: str) -> None:
    plan = _hostile_plan(value)
    tag = marker("plan", plan["backend"])
    page = _render(tag + "\n" + render_plan_markdown(plan))

    assert page.tags <= ALLOWED_TAGS, "an HTML element came from content"
    assert [f"<!--{c}-->" for c in page.comments] == [tag], "the marker closed early"
    for text in page.prose:
        assert not MENTION.search(text), f"a mention: {text!r}"
        assert not REFERENCE.search(text), f"an issue reference: {text!r}"
    shown = "".join(page.text)
    assert "Only the new docs route below changes" not in "".join(page.prose).replace(
        "\\n", "\n"
    ).split("\n\n")  # never a paragraph of its own
    assert shown.count("<details>") == 0
    for change in plan["changes"][:-1]:
        assert f'route "{change["route"]}" will be' in shown
    assert shown.count("will be destroyed") >= plan["summary"]["destroy"] + 1
    assert (
        'path "/carts" -> shopping-cart => attacker-svc' in shown
    )  # the switch a reviewer must see
    assert page.tags >= {"details", "summary", "pre"}


def test_a_code_fence_no_content_can_close() -> None:
    plan = _hostile_plan("````` ~~~~~ ```")
    page = _render(render_plan_markdown(plan))
    shown = "".join(page.text)
    assert shown.count('path "/carts" -> shopping-cart => attacker-svc') == 1
    assert page.tags <= ALLOWED_TAGS
