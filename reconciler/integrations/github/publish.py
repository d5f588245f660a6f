"""Publishing to GitHub: the plan as the pull request's comment and the Action's step
outputs, drift as an issue. What ``routes plan --github-comment``, ``routes drift
--github-issue`` and ``routes github …`` do; errors are reconciler.errors classes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from reconciler.integrations.github.comment import (
    GitHubClient,
    GitHubContext,
    GitHubReadOnlyError,
    sync_drift_issue,
    upsert_plan_comment,
    write_drift_outputs,
    write_step_outputs,
)
from reconciler.render.markdown import render_plan_markdown

READ_ONLY_NOTE = (
    "warning: the plan was not posted as a comment: the token may not write to the pull "
    "request (pull requests from forks and Dependabot get a read-only token). The plan is "
    "in the step summary and the step outputs."
)


def check_context(*, pull_request: bool, env: Mapping[str, str] | None = None) -> None:
    """Fail on missing GitHub settings before the work, not after it."""
    context = GitHubContext.from_env(os.environ if env is None else env)
    if pull_request:
        context.require_pr()


def default_target(plan_dict: Mapping[str, Any]) -> str:
    """The comment's target when none is given: the backend the plan was made against."""
    return str(plan_dict.get("backend") or "default")


def publish_plan(
    plan_dict: Mapping[str, Any],
    plan_file: str | None,
    *,
    target: str | None = None,
    pr: int | None = None,
    env: Mapping[str, str] | None = None,
    http: httpx.Client | None = None,
    outputs: bool = True,
) -> str | None:
    """Write the step outputs (unless not ``outputs``), then upsert the plan comment on the
    run's pull request and return its URL; None when the token may not write (a fork's or
    Dependabot's pull request): the outputs and the summary are written all the same."""
    ctx = GitHubContext.from_env(os.environ if env is None else env)
    markdown = render_plan_markdown(plan_dict)
    client = GitHubClient(ctx, http)
    number = pr if pr is not None else ctx.require_pr()
    if outputs:
        write_step_outputs(ctx, plan_dict, plan_file, markdown)
    try:
        return upsert_plan_comment(client, number, markdown, target or default_target(plan_dict))
    except GitHubReadOnlyError:
        return None


def publish_outputs(
    plan_dict: Mapping[str, Any], plan_file: str, *, env: Mapping[str, str] | None = None
) -> None:
    """Write the plan to the step summary and its counts to the step outputs (no token)."""
    ctx = GitHubContext.from_env(os.environ if env is None else env, require_api=False)
    write_step_outputs(ctx, plan_dict, plan_file, render_plan_markdown(plan_dict))


def publish_drift_outputs(
    report_markdown: str, drifted: bool, *, env: Mapping[str, str] | None = None
) -> None:
    """Append the drift report to the step summary and write ``has-changes`` (no token)."""
    ctx = GitHubContext.from_env(os.environ if env is None else env, require_api=False)
    write_drift_outputs(ctx, report_markdown, drifted)


def publish_drift(
    report_markdown: str,
    drifted: bool,
    *,
    target: str | None = None,
    env: Mapping[str, str] | None = None,
    http: httpx.Client | None = None,
) -> str | None:
    """Open, update or close the drift issue for ``target``; return its URL, if there is one."""
    ctx = GitHubContext.from_env(os.environ if env is None else env)
    return sync_drift_issue(GitHubClient(ctx, http), report_markdown, drifted, target or "default")
