"""Every request the GitHub integration makes, and every answer of the fake, checked against
GitHub's published OpenAPI description (@octokit/openapi, installed by .ci/run; skipped
visibly without it, a failure under CI). The fake also checks each test's exchanges when
the description is installed (support.py)."""

from __future__ import annotations

from reconciler.integrations.github.comment import (
    GitHubClient,
    sync_drift_issue,
    upsert_plan_comment,
)
from tests.integrations.github.openapi import Exchange, github_description
from tests.integrations.github.support import REPO, FakeGitHub


def test_every_request_and_answer_is_one_github_describes(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    described = github_description()
    for i in range(120):  # two pages of comments
        fake.add_comment(7, f"remark {i}")
    upsert_plan_comment(client, 7, "plan v1", "prod")
    upsert_plan_comment(client, 7, "plan v2", "prod")
    sync_drift_issue(client, "drifted", True, "prod")
    sync_drift_issue(client, "still drifted", True, "prod")
    sync_drift_issue(client, "clean", False, "prod")

    operations = set()
    for exchange in fake.exchanges:
        assert described.problems(exchange) == []
        template = next(t for pattern, t in described.paths if pattern.fullmatch(exchange.path))
        item = described.document["paths"][template][exchange.method.lower()]
        operations.add(item["operationId"])
    assert operations == {
        "issues/list-comments",
        "issues/create-comment",
        "issues/update-comment",
        "issues/list-for-repo",
        "issues/create",
        "issues/update",
        "issues/create-label",
    }


def test_the_check_catches_what_github_would_refuse() -> None:
    described = github_description()
    comments = f"/repos/{REPO}/issues/7/comments"
    bad_body = Exchange("POST", comments, {}, {"text": "plan"}, 201, None)
    assert any("'body' is a required property" in p for p in described.problems(bad_body))
    bad_query = Exchange("GET", comments, {"perpage": ["100"]}, None, 200, [])
    assert described.problems(bad_query) == [
        "GET /repos/{owner}/{repo}/issues/{issue_number}/comments (issues/list-comments): "
        "undeclared query parameter 'perpage'"
    ]
    bad_close = Exchange("PATCH", f"/repos/{REPO}/issues/1", {}, {"state": "done"}, 200, None)
    assert any("'done' is not one of" in p for p in described.problems(bad_close))
    bad_answer = Exchange("POST", comments, {}, {"body": "x"}, 201, {"id": 1})
    assert any("'html_url' is a required property" in p for p in described.problems(bad_answer))
    undocumented = Exchange("DELETE", f"/repos/{REPO}/issues/1", {}, None, 204, None)
    assert described.problems(undocumented) == [
        f"DELETE /repos/{REPO}/issues/1: /repos/{{owner}}/{{repo}}/issues/{{issue_number}} "
        "has no DELETE operation"
    ]
