"""`routes github …`: publish a saved plan to a pull request and to the Action's step outputs.

Also the two functions behind `routes plan --github-comment` and `routes drift --github-issue`.
Errors are reconciler.errors classes; the handler in ``cli.py`` turns them into messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import click
import httpx

from reconciler.integrations.github.comment import (
    GitHubClient,
    GitHubContext,
    sync_drift_issue,
    upsert_plan_comment,
    write_step_outputs,
)
from reconciler.render.markdown import render_plan_markdown


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
) -> str:
    """Upsert the plan comment on the run's pull request, write step outputs; return the URL."""
    ctx = GitHubContext.from_env(os.environ if env is None else env)
    markdown = render_plan_markdown(plan_dict)
    client = GitHubClient(ctx, http)
    number = pr if pr is not None else ctx.require_pr()
    url = upsert_plan_comment(client, number, markdown, target or default_target(plan_dict))
    write_step_outputs(ctx, plan_dict, plan_file, markdown)
    return url


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


def read_plan_file(path: str) -> dict[str, Any]:
    """A saved plan's JSON, checked like `routes apply` checks it."""
    from reconciler.apply.saved_plan import read_plan_file as read_plan

    return read_plan(path).to_dict()


@click.group("github")
def github_group() -> None:
    """Publish plans to GitHub pull requests and Action step outputs."""


@github_group.command("comment")
@click.argument("plan_file", metavar="PLAN_FILE")
@click.option("--target", metavar="NAME", help="Which comment to keep (default: the backend).")
@click.option(
    "--pr", type=click.IntRange(min=1), help="Pull request number (default: the event's)."
)
def comment(plan_file: str, target: str | None, pr: int | None) -> None:
    """Create or update the plan comment on the pull request; print its URL."""
    plan_dict = read_plan_file(plan_file)
    click.echo(publish_plan(plan_dict, plan_file, target=target, pr=pr))


@github_group.command("outputs")
@click.argument("plan_file", metavar="PLAN_FILE")
def outputs(plan_file: str) -> None:
    """Write the plan to the step summary and its counts to the step outputs."""
    plan_dict = read_plan_file(plan_file)
    ctx = GitHubContext.from_env(os.environ, require_api=False)
    write_step_outputs(ctx, plan_dict, plan_file, render_plan_markdown(plan_dict))
