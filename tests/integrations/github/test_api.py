"""reconciler.integrations.github.api against the fake GitHub (support.py): retries, rate
limits and errors of the client, and the run's context read from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from reconciler.errors import ConfigError
from reconciler.integrations.github.api import (
    GitHubAuthError,
    GitHubClient,
    GitHubContext,
    GitHubError,
    GitHubGoneError,
    GitHubNotFoundError,
    GitHubRateLimitError,
)
from reconciler.integrations.github.comment import sync_drift_issue, upsert_plan_comment
from tests.integrations.github.support import NOW, REPO, FakeGitHub

# ------------------------------------------------------------------ retries and errors


def test_rate_limits_and_server_errors_are_waited_out(
    fake: FakeGitHub, client: GitHubClient, sleeps: list[float]
) -> None:
    fake.faults = [
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)},
            {"message": "API rate limit exceeded"},
        ),
        (429, {"retry-after": "7"}, {"message": "You have exceeded a secondary rate limit."}),
        (502, {}, {"message": "Server Error"}),
    ]
    upsert_plan_comment(client, 7, "plan", "prod")
    assert sleeps == [31.0, 7.0, 4.0]  # backoff grows with the attempt number
    assert len(fake.comments[7]) == 1


def test_a_secondary_limit_without_retry_after_waits_a_minute(
    fake: FakeGitHub, client: GitHubClient, sleeps: list[float]
) -> None:
    message = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
    fake.faults = [(403, {}, message)]
    upsert_plan_comment(client, 7, "plan", "prod")
    assert sleeps == [60.0] and len(fake.comments[7]) == 1


def test_a_rate_limit_reset_far_away_fails_instead_of_waiting(
    fake: FakeGitHub, client: GitHubClient, sleeps: list[float]
) -> None:
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3600)}
    fake.faults = [(403, reset, {"message": "API rate limit exceeded"})]
    with pytest.raises(GitHubRateLimitError, match="rate limit exceeded"):
        upsert_plan_comment(client, 7, "plan", "prod")
    assert sleeps == []


def test_persistent_server_errors_give_up_after_bounded_retries(
    fake: FakeGitHub, client: GitHubClient, sleeps: list[float]
) -> None:
    fake.faults = [(503, {}, {"message": "Unavailable"})] * 10
    with pytest.raises(GitHubError, match="GitHub answered 503"):
        upsert_plan_comment(client, 7, "plan", "prod")
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_missing_permission_names_the_scope_to_grant(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    fake.read_only = True
    with pytest.raises(GitHubAuthError, match="needs `pull-requests: write`") as err:
        upsert_plan_comment(client, 7, "plan", "prod")
    assert "Resource not accessible by integration" in err.value.message
    with pytest.raises(GitHubAuthError, match="needs `issues: write`"):
        sync_drift_issue(client, "drift", True, "prod")


def test_a_bad_token_is_reported_without_echoing_it(
    env: dict[str, str], sleeps: list[float]
) -> None:
    ctx = GitHubContext.from_env({**env, "GITHUB_TOKEN": "ghs_wrong"})
    with httpx.Client() as http, pytest.raises(GitHubAuthError) as err:
        upsert_plan_comment(GitHubClient(ctx, http, sleep=sleeps.append), 7, "plan", "x")
    assert err.value.message.startswith("GITHUB_TOKEN is invalid")
    assert "ghs_wrong" not in f"{err.value.message} {err.value.hint} {ctx!r}"


def test_an_unknown_repository_is_named_not_found_not_a_missing_permission(
    env: dict[str, str], sleeps: list[float]
) -> None:
    ctx = GitHubContext.from_env({**env, "GITHUB_REPOSITORY": "acme/private"})
    with httpx.Client() as http, pytest.raises(GitHubNotFoundError) as err:
        upsert_plan_comment(GitHubClient(ctx, http, sleep=sleeps.append), 7, "plan", "x")
    assert err.value.message.startswith("not found: GitHub answered 404")
    assert "permission" not in err.value.message and sleeps == []


def test_an_unreachable_api_is_a_clear_error(env: dict[str, str], sleeps: list[float]) -> None:
    ctx = GitHubContext.from_env({**env, "GITHUB_API_URL": "http://127.0.0.1:9"})
    with httpx.Client() as http, pytest.raises(GitHubError, match="cannot reach GitHub"):
        upsert_plan_comment(GitHubClient(ctx, http, sleep=sleeps.append), 7, "plan", "x")
    assert len(sleeps) == 4


# ------------------------------------------------------------------------------ context


def test_context_reads_the_pull_request_or_issue_number(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert GitHubContext.from_env(env).require_pr() == 7
    event = tmp_path / "comment.json"
    event.write_text(json.dumps({"issue": {"number": 12, "pull_request": {}}}))
    assert GitHubContext.from_env({**env, "GITHUB_EVENT_PATH": str(event)}).pr_number == 12
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    push = GitHubContext.from_env({**env, "GITHUB_EVENT_PATH": str(event)})
    with pytest.raises(ConfigError, match="does not belong to a pull request"):
        push.require_pr()


@pytest.mark.parametrize(
    ("missing", "message"),
    [("GITHUB_TOKEN", "GITHUB_TOKEN is not set"), ("GITHUB_REPOSITORY", "GITHUB_REPOSITORY")],
)
def test_context_says_what_is_missing(env: dict[str, str], missing: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GitHubContext.from_env({k: v for k, v in env.items() if k != missing})


def test_context_rejects_a_malformed_repository_and_event(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="owner/repo"):
        GitHubContext.from_env({**env, "GITHUB_REPOSITORY": "gitops"})
    with pytest.raises(ConfigError, match="cannot read the GitHub event file"):
        GitHubContext.from_env({**env, "GITHUB_EVENT_PATH": "/nonexistent/event.json"})


# --------------------------------------------------------------- redirects, unknown outcomes


def test_a_moved_repository_is_followed_with_the_same_method_and_body(
    fake: FakeGitHub, env: dict[str, str], sleeps: list[float]
) -> None:
    fake.moved = {"/repos/acme/old-name/": f"/repos/{REPO}/"}
    ctx = GitHubContext.from_env({**env, "GITHUB_REPOSITORY": "acme/old-name"})
    with httpx.Client() as http:
        client = GitHubClient(ctx, http, sleep=sleeps.append)
        upsert_plan_comment(client, 7, "plan v1", "prod")
        upsert_plan_comment(client, 7, "plan v2", "prod")
    (comment,) = fake.comments[7]
    assert comment["body"].endswith("plan v2")
    methods = [m for m, url in fake.log if url.startswith("/repos/acme/old-name/")]
    assert methods == ["GET", "POST", "GET", "PATCH"] and sleeps == []


@pytest.mark.parametrize("status", [302, 307])
def test_a_temporary_redirect_repeats_the_post_verbatim(
    fake: FakeGitHub, client: GitHubClient, status: int
) -> None:
    there = f"{fake.base_url}/repos/{REPO}/issues/7/comments"
    fake.faults = [(200, {}, [])]  # the listing
    fake.faults.append((status, {"Location": there}, {"message": "Found"}))
    upsert_plan_comment(client, 7, "plan", "prod")
    assert [c["body"] for c in fake.comments[7]] == ["<!-- routes-plan: prod -->\nplan"]


def test_a_redirect_to_another_host_keeps_the_token_home(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    fake.faults = [(301, {"Location": "http://127.0.0.2:9/steal"}, {"message": "Moved"})]
    with pytest.raises(GitHubError, match=r"redirected .* to another host"):
        upsert_plan_comment(client, 7, "plan", "prod")


@pytest.mark.parametrize("lost", [502, 504, 0], ids=["502", "504", "hang-up"])
def test_a_comment_post_whose_answer_is_lost_is_looked_for_not_repeated(
    fake: FakeGitHub, client: GitHubClient, lost: int
) -> None:
    fake.lost = [lost]  # the comment is created, its answer lost
    url = upsert_plan_comment(client, 7, "plan", "prod")
    (comment,) = fake.comments[7]
    assert url == comment["html_url"]
    assert [m for m, _ in fake.log] == ["GET", "POST", "GET", "PATCH"]


def test_a_drift_issue_post_whose_answer_is_lost_opens_one_issue(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    fake.labels.add("routes-drift")
    fake.lost = [0]  # the issue is opened, the connection drops before its answer
    sync_drift_issue(client, "drifted", True, "prod")
    assert len(fake.issues) == 1
    fake.lost = [502]  # the closing note is posted, its answer lost
    sync_drift_issue(client, "clean", False, "prod")
    assert [c["body"] for c in fake.comments[1]] == ["Live state matches the descriptors again."]
    assert fake.issues[0]["state"] == "closed"


def test_secondary_rate_limits_wait_exponentially_longer(
    fake: FakeGitHub, client: GitHubClient, sleeps: list[float]
) -> None:
    message = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
    fake.faults = [(403, {}, message)] * 3
    upsert_plan_comment(client, 7, "plan", "prod")
    assert sleeps == [60.0, 120.0, 240.0] and len(fake.comments[7]) == 1


def test_issues_disabled_is_named_gone(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.faults = [(410, {}, {"message": "Issues are disabled for this repo"})]
    with pytest.raises(GitHubGoneError, match="gone: GitHub answered 410") as err:
        sync_drift_issue(client, "drift", True, "prod")
    assert "enable Issues" in (err.value.hint or "")
