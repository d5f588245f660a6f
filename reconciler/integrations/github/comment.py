"""GitHub: the plan as a pull-request comment, drift as an issue, step outputs for the Action.

Comments and issues are found again by a hidden marker on their first line, and only among
those the expected bot wrote (``GitHubContext.author``): anyone may post a comment holding the
marker, nobody else can post as the bot. So each run updates what the last run wrote instead
of adding to it, or of editing someone else's text. The REST client lives in ``api``;
``COMMENT_LIMIT``, GitHub's longest body, is the markdown renderer's.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

from reconciler.integrations.github.api import (
    GitHubAuthError,
    GitHubClient,
    GitHubContext,
    GitHubError,
    GitHubGoneError,
    GitHubNotFoundError,
    GitHubOutcomeUnknown,
    GitHubRateLimitError,
    GitHubReadOnlyError,
    error_message,
)
from reconciler.render.markdown import COMMENT_LIMIT

__all__ = [
    "COMMENT_LIMIT",
    "DRIFT_LABEL",
    "OUTPUT_KEYS",
    "GitHubAuthError",
    "GitHubClient",
    "GitHubContext",
    "GitHubError",
    "GitHubGoneError",
    "GitHubNotFoundError",
    "GitHubOutcomeUnknown",
    "GitHubRateLimitError",
    "GitHubReadOnlyError",
    "fit_body",
    "marker",
    "sync_drift_issue",
    "upsert_plan_comment",
    "write_drift_outputs",
    "write_step_outputs",
]

DRIFT_LABEL = "routes-drift"
OUTPUT_KEYS = ("has-changes", "add", "change", "destroy", "plan-file")
COMMENTS_PERMISSION = "pull-requests: write"
ISSUES_PERMISSION = "issues: write"
CLOSED_NOTE = "Live state matches the descriptors again."
# What a marker may hold as written: no `>`, no `--` (either could end the comment early),
# no space or line break. Anything else is replaced, and a digest keeps targets apart.
_MARKER_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+=~-]|-(?=-)")


def marker(kind: str, target: str) -> str:
    """The hidden HTML comment that finds our comment or issue again on the next run."""
    safe = _MARKER_UNSAFE.sub("_", target)[:100]
    if safe != target:
        safe += "~" + hashlib.sha256(target.encode("utf-8", "replace")).hexdigest()[:12]
    return f"<!-- routes-{kind}: {safe or 'default'} -->"


def _ours(item: Mapping[str, Any], tag: str, author: str) -> bool:
    """Whether ``item`` (a comment or an issue) is the one we wrote for ``tag``."""
    user = item.get("user") or {}
    kind = "Bot" if author.endswith("[bot]") else "User"
    body = item.get("body") or ""
    return (
        user.get("login") == author
        and user.get("type") == kind
        and (body == tag or body.startswith(tag + "\n"))
    )


def fit_body(text: str, limit: int = COMMENT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out when it was cut."""
    if len(text) <= limit:
        return text
    note = "\n\n… truncated: {n} characters left out. The full plan is in the run's artifact.\n"
    reserve = len(note.format(n=len(text)))
    kept = text[: limit - reserve]
    return kept + note.format(n=len(text) - len(kept))


def upsert_plan_comment(client: GitHubClient, pr: int, body: str, target: str) -> str:
    """Create or update this target's plan comment on pull request ``pr``; return its URL."""
    tag = marker("plan", target)
    text = fit_body(f"{tag}\n{body}")
    comments = f"/repos/{client.repository}/issues/{pr}/comments"

    def upsert() -> str:
        for comment in client.paginate(comments, permission=COMMENTS_PERMISSION):
            if _ours(comment, tag, client.ctx.author):
                url = f"/repos/{client.repository}/issues/comments/{comment['id']}"
                done = client.request(
                    "PATCH", url, permission=COMMENTS_PERMISSION, body={"body": text}
                )
                return str(done.json()["html_url"])
        done = client.request("POST", comments, permission=COMMENTS_PERMISSION, body={"body": text})
        return str(done.json()["html_url"])

    return client.once(upsert)


def sync_drift_issue(
    client: GitHubClient, report_markdown: str, drifted: bool, target: str
) -> str | None:
    """Keep one open drift issue per target in step with the drift report; return its URL."""
    tag = marker("drift", target)
    issues = f"/repos/{client.repository}/issues"
    text = fit_body(f"{tag}\n{report_markdown}")

    def find() -> dict[str, Any] | None:
        listed = client.paginate(
            issues, permission=ISSUES_PERMISSION, params={"state": "open", "labels": DRIFT_LABEL}
        )
        return next(
            (i for i in listed if "pull_request" not in i and _ours(i, tag, client.ctx.author)),
            None,
        )

    def open_or_update() -> str:
        existing = find()
        if existing is not None:
            url = f"{issues}/{existing['number']}"
            client.request("PATCH", url, permission=ISSUES_PERMISSION, body={"body": text})
            return str(existing["html_url"])
        created = client.request(
            "POST",
            issues,
            permission=ISSUES_PERMISSION,
            body={"title": f"Route drift: {target}", "body": text, "labels": [DRIFT_LABEL]},
        )
        return str(created.json()["html_url"])

    if drifted:
        _ensure_label(client)
        return client.once(open_or_update)
    existing = find()
    if existing is None:
        return None
    number = existing["number"]
    client.once(lambda: _note_closed(client, number))
    client.request(
        "PATCH",
        f"{issues}/{number}",
        permission=ISSUES_PERMISSION,
        body={"state": "closed", "state_reason": "completed"},
    )
    return str(existing["html_url"])


def _note_closed(client: GitHubClient, number: int) -> None:
    """Say on issue ``number`` that drift is gone, unless an earlier attempt already did."""
    comments = f"/repos/{client.repository}/issues/{number}/comments"
    for comment in client.paginate(comments, permission=ISSUES_PERMISSION):
        if _ours(comment, CLOSED_NOTE, client.ctx.author):
            return
    client.request("POST", comments, permission=ISSUES_PERMISSION, body={"body": CLOSED_NOTE})


def _ensure_label(client: GitHubClient) -> None:
    response = client.request(
        "POST",
        f"/repos/{client.repository}/labels",
        permission=ISSUES_PERMISSION,
        body={
            "name": DRIFT_LABEL,
            "color": "d93f0b",
            "description": "Live routes differ from the descriptors",
        },
        accept=(422,),
        repeatable=True,  # a second create answers 422 already_exists
    )
    if response.status_code == 422 and "already_exists" not in response.text:
        raise GitHubError(
            f"cannot create the label {DRIFT_LABEL!r}: {error_message(response)}",
            hint=f"create the label {DRIFT_LABEL!r} in the repository by hand",
        )


def write_step_outputs(
    ctx: GitHubContext, plan_dict: Mapping[str, Any], plan_file: str | None, markdown: str
) -> None:
    """Append the markdown to the step summary and the plan's counts to the step outputs."""
    summary = plan_dict.get("summary") or {}
    counts = {key: int(summary.get(key, 0)) for key in ("add", "change", "destroy")}
    values = {
        # An adoption-only plan has changes too (summary.adopt, no output of its own).
        "has-changes": "true" if any(counts.values()) or summary.get("adopt") else "false",
        **{key: str(n) for key, n in counts.items()},
        "plan-file": plan_file or "",
    }
    _write_outputs(ctx, markdown, [(key, values[key]) for key in OUTPUT_KEYS])


def write_drift_outputs(ctx: GitHubContext, markdown: str, drifted: bool) -> None:
    """Append the drift report to the step summary and write ``has-changes``."""
    _write_outputs(ctx, markdown, [("has-changes", "true" if drifted else "false")])


def _write_outputs(ctx: GitHubContext, markdown: str, values: list[tuple[str, str]]) -> None:
    try:
        if ctx.step_summary is not None:
            with ctx.step_summary.open("a", encoding="utf-8") as out:
                out.write(markdown if markdown.endswith("\n") else markdown + "\n")
        if ctx.output is not None:
            with ctx.output.open("a", encoding="utf-8") as out:
                out.writelines(_output_entry(key, value) for key, value in values)
    except OSError as exc:
        raise GitHubError(
            f"cannot write the step outputs: {exc}",
            hint="GITHUB_OUTPUT and GITHUB_STEP_SUMMARY must name writable files",
        ) from exc


def _output_entry(key: str, value: str) -> str:
    if "\n" not in value and "\r" not in value:
        return f"{key}={value}\n"
    delimiter = f"ghadelimiter_{uuid.uuid4()}"  # GitHub's documented multiline form
    return f"{key}<<{delimiter}\n{value}\n{delimiter}\n"
