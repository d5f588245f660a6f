"""reconciler.integrations.github.comment against the fake GitHub (support.py): the sticky
plan comment, the drift issue, and the Action's step outputs."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from reconciler.integrations.github.comment import (
    COMMENT_LIMIT,
    GitHubClient,
    GitHubContext,
    fit_body,
    marker,
    sync_drift_issue,
    upsert_plan_comment,
    write_step_outputs,
)
from reconciler.plan import Change
from tests.integrations.github.support import (
    BOT,
    BOT_USER,
    REPO,
    FakeGitHub,
    _create,
    _plan,
    user,
)

# ------------------------------------------------------------------------------- comments


def test_upsert_creates_once_then_updates_among_150_other_comments(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    for i in range(150):
        fake.add_comment(7, f"review remark {i}")

    first = upsert_plan_comment(client, 7, "Plan: 1 to add", "prod")
    second = upsert_plan_comment(client, 7, "Plan: 2 to add", "prod")

    ours = [c for c in fake.comments[7] if "<!-- routes-plan: prod -->" in c["body"]]
    assert len(ours) == 1 and first == second == ours[0]["html_url"]
    assert ours[0]["body"].endswith("Plan: 2 to add")
    assert len(fake.comments[7]) == 151
    # The second run had to read past page 1 (100 per page) to find the comment on page 2.
    second_run = fake.log[fake.log.index(("POST", f"/repos/{REPO}/issues/7/comments")) + 1 :]
    assert [m for m, _ in second_run] == ["GET", "GET", "PATCH"]
    assert "per_page=100" in second_run[0][1] and "page=2" in second_run[1][1]


def test_each_target_keeps_its_own_comment(fake: FakeGitHub, client: GitHubClient) -> None:
    staging = upsert_plan_comment(client, 7, "staging plan", "staging")
    prod = upsert_plan_comment(client, 7, "prod plan", "prod")
    upsert_plan_comment(client, 7, "staging plan v2", "staging")

    assert staging != prod
    bodies = sorted(c["body"] for c in fake.comments[7])
    assert bodies == [
        "<!-- routes-plan: prod -->\nprod plan",
        "<!-- routes-plan: staging -->\nstaging plan v2",
    ]


def test_an_oversized_body_is_cut_and_says_so(fake: FakeGitHub, client: GitHubClient) -> None:
    upsert_plan_comment(client, 7, "x" * 70_000, "prod")
    body = fake.comments[7][0]["body"]
    assert len(body) <= COMMENT_LIMIT
    assert body.startswith("<!-- routes-plan: prod -->")
    left_out = int(re.search(r"truncated: (\d+) characters left out", body)[1])  # type: ignore[index]
    assert left_out == len("<!-- routes-plan: prod -->\n") + 70_000 - body.index("\n\n… truncated")


def test_fit_body_leaves_short_text_alone() -> None:
    assert fit_body("short") == "short"


# ---------------------------------------------------------------------------- drift issue


def test_drift_issue_opens_updates_then_closes_with_a_comment(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    assert sync_drift_issue(client, "all good", drifted=False, target="prod") is None
    assert fake.issues == []

    url = sync_drift_issue(client, "shop drifted", drifted=True, target="prod")
    assert fake.labels == {"routes-drift"}
    (issue,) = fake.issues
    assert url == issue["html_url"]
    assert [label["name"] for label in issue["labels"]] == ["routes-drift"]
    assert issue["body"].endswith("shop drifted")

    assert sync_drift_issue(client, "shop and blog drifted", True, "prod") == url
    assert len(fake.issues) == 1 and issue["body"].endswith("shop and blog drifted")

    assert sync_drift_issue(client, "clean", drifted=False, target="prod") == url
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert [c["body"] for c in fake.comments[1]] == ["Live state matches the descriptors again."]


def test_a_new_drift_after_closing_opens_a_new_issue_and_tolerates_the_label(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    sync_drift_issue(client, "drift 1", True, "prod")
    sync_drift_issue(client, "clean", False, "prod")
    sync_drift_issue(client, "drift 2", True, "prod")  # label exists: 422 already_exists
    sync_drift_issue(client, "staging drift", True, "staging")
    assert [(i["state"], i["body"].splitlines()[-1]) for i in fake.issues] == [
        ("closed", "drift 1"),
        ("open", "drift 2"),
        ("open", "staging drift"),
    ]


# ------------------------------------------------------------------------- step outputs


def test_step_outputs_and_summary_are_appended(env: dict[str, str]) -> None:
    ctx = GitHubContext.from_env(env, require_api=False)
    plan = _plan(
        _create("shop"), Change(route="old", action="delete", reason="not-in-configuration")
    )
    Path(env["GITHUB_OUTPUT"]).write_text("earlier=1\n")
    write_step_outputs(ctx, plan, "plan.json", "## Plan")
    write_step_outputs(ctx, _plan(), None, "No changes.\n")

    lines = Path(env["GITHUB_OUTPUT"]).read_text().splitlines()
    assert lines == [
        "earlier=1",
        "has-changes=true",
        "add=1",
        "change=0",
        "destroy=1",
        "plan-file=plan.json",
        "has-changes=false",
        "add=0",
        "change=0",
        "destroy=0",
        "plan-file=",
    ]
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text() == "## Plan\nNo changes.\n"


def test_multiline_values_use_the_heredoc_form(env: dict[str, str]) -> None:
    ctx = GitHubContext.from_env(env, require_api=False)
    write_step_outputs(ctx, _plan(), "odd\nname.json", "")
    text = Path(env["GITHUB_OUTPUT"]).read_text()
    m = re.search(r"^plan-file<<(ghadelimiter_[0-9a-f-]+)\nodd\nname\.json\n\1\n", text, re.M)
    assert m is not None


# ------------------------------------------------------------------------ hijack attempts


def test_a_comment_by_someone_else_holding_the_marker_is_never_edited(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    # Posted before the bot's first run: comments list oldest first, so it would win.
    forged = fake.add_comment(7, "<!-- routes-plan: prod -->\n**Plan:** no changes")
    fake.add_comment(7, "<!-- routes-plan: prod -->\nalso fake", user("evil[bot]", "Bot", 7))
    fake.add_comment(7, "<!-- routes-plan: prod -->\nfake too", user(BOT, "User", 8))

    first = upsert_plan_comment(client, 7, "Plan: 1 to destroy", "prod")
    second = upsert_plan_comment(client, 7, "Plan: 2 to destroy", "prod")

    assert forged["body"].endswith("no changes")  # untouched
    ours = [c for c in fake.comments[7] if c["user"] == BOT_USER]
    assert len(ours) == 1 and first == second == ours[0]["html_url"]
    assert ours[0]["body"] == "<!-- routes-plan: prod -->\nPlan: 2 to destroy"


def test_the_bot_login_is_configurable(fake: FakeGitHub, env: dict[str, str]) -> None:
    app = user("routes-app[bot]", "Bot", 99)
    fake.identity = app
    fake.add_comment(7, "<!-- routes-plan: prod -->\nby another bot", BOT_USER)
    mine = fake.add_comment(7, "<!-- routes-plan: prod -->\nold", app)
    ctx = GitHubContext.from_env({**env, "ROUTES_GITHUB_AUTHOR": "routes-app[bot]"})
    with httpx.Client() as http:
        found = upsert_plan_comment(GitHubClient(ctx, http), 7, "new", "prod")
    assert found == mine["html_url"] and mine["body"].endswith("\nnew")
    assert fake.comments[7][0]["body"].endswith("by another bot")


def test_the_marker_cannot_be_closed_early_or_shared_by_lookalike_targets() -> None:
    for target in ("x --->", "x -- >", "x\n-->", "a>b", "--!>", "a b"):
        tag = marker("plan", target)
        inner = tag.removeprefix("<!--").removesuffix("-->")
        assert "--" not in inner.strip(" ") and ">" not in inner and "\n" not in tag, tag
    assert marker("plan", "prod") == "<!-- routes-plan: prod -->"
    assert marker("plan", "a b") != marker("plan", "a_b")
    assert marker("plan", "x-->") != marker("plan", "x->")


def test_a_body_that_only_mentions_the_marker_later_is_not_ours(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    fake.add_comment(7, "quoting the bot:\n<!-- routes-plan: prod -->", BOT_USER)
    upsert_plan_comment(client, 7, "plan", "prod")
    assert [c["body"] for c in fake.comments[7]][-1] == "<!-- routes-plan: prod -->\nplan"
    assert len(fake.comments[7]) == 2


def test_a_drift_issue_someone_else_opened_is_never_edited_or_closed(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    fake.labels.add("routes-drift")
    forged = fake.add_issue(
        "Route drift: prod", "<!-- routes-drift: prod -->\nall fine", ["routes-drift"]
    )
    sync_drift_issue(client, "shop drifted", True, "prod")
    sync_drift_issue(client, "clean", False, "prod")
    assert forged["body"].endswith("all fine") and forged["state"] == "open"
    (ours,) = [i for i in fake.issues if i["user"] == BOT_USER]
    assert ours["state"] == "closed" and ours["body"].endswith("shop drifted")
