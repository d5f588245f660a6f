"""Plan -> Markdown for PR comments: order, the size limit, deletes always shown."""

from __future__ import annotations

from reconciler.render.markdown import render_plan_markdown
from tests.render.plan_fixture import OWNER, PLAN, many_changes


def test_markdown_starts_with_summary_then_risks_then_details() -> None:
    md = render_plan_markdown(PLAN.to_dict())
    first = md.splitlines()[0]
    assert first.startswith("**Plan:** 1 to add, 3 to change, 1 to destroy")
    assert "`local:.routes/state.db`" in first and f"`{OWNER}`" in first
    assert md.index("### Risks") < md.index("<details>")
    assert md.count("<details>") == md.count("</details>") == len(PLAN.changes)
    block = '```diff\n   # route "shop" will be updated in-place\n!    route "shop" {\n'
    assert block + '         host = "ecommerce.acme.org"\n+        path "/inventory"' in md
    assert render_plan_markdown(PLAN.to_dict()) == md


def test_markdown_stays_under_the_comment_limit_and_keeps_every_delete() -> None:
    plan = many_changes(3000, 50)
    assert len(plan.changes) == 3000 and plan.count("delete") == 50
    md = render_plan_markdown(plan.to_dict())
    assert len(md) < 65536
    assert md.splitlines()[0].startswith("**Plan:** 1475 to add, 1475 to change, 50 to destroy")
    for i in range(50):
        assert f'route "gone-{i:03d}" will be deleted' in md
        assert f"<code>- gone-{i:03d}</code>" in md
    shown = md.count("<details>") - 50
    assert 0 < shown < 2950
    assert f"… {2950 - shown} more changed routes not shown; run `routes show plan.json`" in md


def test_markdown_falls_back_to_one_line_per_delete_when_blocks_do_not_fit() -> None:
    plan = many_changes(60, 40)
    md = render_plan_markdown(plan.to_dict(), limit=6000)
    assert len(md) < 6000
    for i in range(40):
        assert f"`- gone-{i:03d}` will be destroyed" in md
    assert "more changed routes not shown" in md


def test_markdown_lists_deletes_by_name_when_even_one_line_each_is_too_long() -> None:
    plan = many_changes(1300, 1200)
    md = render_plan_markdown(plan.to_dict())
    assert len(md) < 65536
    assert md.splitlines()[0].startswith("**Plan:** 50 to add, 50 to change, 1200 to destroy")
    assert "- 1200 routes will be deleted (listed below)" in md
    for i in range(1200):
        assert f"`gone-{i:03d}`" in md
