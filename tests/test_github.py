"""reconciler.integrations.github.comment against a fake GitHub REST API served on 127.0.0.1.

The fake speaks the subset routes uses, shaped as GitHub documents it:
- issue comments list / create / update: https://docs.github.com/en/rest/issues/comments
- issues list (state, labels filters; PRs appear as issues) / create / update, close with
  state_reason: https://docs.github.com/en/rest/issues/issues
- labels create, 422 `already_exists`: https://docs.github.com/en/rest/issues/labels
- primary limit (403/429 + x-ratelimit-remaining: 0 + x-ratelimit-reset) and secondary
  limit (retry-after): https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
- per_page / page and `Link: <…>; rel="next"`:
  https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
- 403 `Resource not accessible by integration` is what a GITHUB_TOKEN without the needed
  `permissions:` scope receives.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import github_group
from reconciler.errors import ConfigError, PlanError
from reconciler.integrations.github.comment import (
    COMMENT_LIMIT,
    GitHubAuthError,
    GitHubClient,
    GitHubContext,
    GitHubError,
    GitHubRateLimitError,
    fit_body,
    sync_drift_issue,
    upsert_plan_comment,
    write_step_outputs,
)
from reconciler.integrations.github.publish import publish_drift, publish_plan
from reconciler.model import RouteSpec
from reconciler.plan import Change, Plan

TOKEN = "ghs_test-token-value"
REPO = "acme/gitops"
NOW = 1_700_000_000.0
_DOCS = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"


@dataclass
class FakeGitHub:
    """State of the fake: comments per issue, issues, labels, queued faults, request log."""

    base_url: str = ""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    faults: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    read_only: bool = False
    log: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add_comment(self, number: int, body: str) -> dict[str, Any]:
        cid = self.new_id()
        comment = {
            "id": cid,
            "body": body,
            "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-{cid}",
        }
        self.comments.setdefault(number, []).append(comment)
        return comment

    def handle(
        self, method: str, url: str, headers: Any, body: Any
    ) -> tuple[int, dict[str, str], Any]:
        self.log.append((method, url))
        if self.faults:
            return self.faults.pop(0)
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"message": "Bad credentials", "documentation_url": _DOCS}
        if headers.get("Accept") != "application/vnd.github+json" or not headers.get(
            "X-GitHub-Api-Version"
        ):
            return 400, {}, {"message": "missing API version headers"}
        if self.read_only and method != "GET":
            return (
                403,
                {},
                {"message": "Resource not accessible by integration", "documentation_url": _DOCS},
            )
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path.removeprefix(f"/repos/{REPO}")
        if path == parts.path:
            return 404, {}, {"message": "Not Found"}
        return self.route(method, path, query, body)

    def route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if m := re.fullmatch(r"/issues/(\d+)/comments", path):
            number = int(m[1])
            if method == "GET":
                return self.page(path, query, self.comments.get(number, []))
            return 201, {}, self.add_comment(number, body["body"])
        if (m := re.fullmatch(r"/issues/comments/(\d+)", path)) and method == "PATCH":
            for comments in self.comments.values():
                for comment in comments:
                    if comment["id"] == int(m[1]):
                        comment["body"] = body["body"]
                        return 200, {}, comment
            return 404, {}, {"message": "Not Found"}
        if path == "/labels" and method == "POST":
            if body["name"] in self.labels:
                errors = [{"resource": "Label", "code": "already_exists", "field": "name"}]
                return 422, {}, {"message": "Validation Failed", "errors": errors}
            self.labels.add(body["name"])
            return 201, {}, {"name": body["name"], "color": body.get("color")}
        if path == "/issues" and method == "GET":
            wanted = set(filter(None, query.get("labels", "").split(",")))
            state = query.get("state", "open")
            found = [
                i
                for i in self.issues
                if (state == "all" or i["state"] == state) and wanted <= set(i["labels"])
            ]
            return self.page(path, query, found)
        if path == "/issues" and method == "POST":
            missing = set(body.get("labels", [])) - self.labels
            if missing:  # be strict: routes creates its label before using it
                return 422, {}, {"message": f"unknown labels {sorted(missing)}"}
            number = len(self.issues) + 1
            issue = {
                "number": number,
                "title": body["title"],
                "body": body["body"],
                "labels": list(body.get("labels", [])),
                "state": "open",
                "state_reason": None,
                "html_url": f"https://github.com/{REPO}/issues/{number}",
            }
            self.issues.append(issue)
            return 201, {}, issue
        if (m := re.fullmatch(r"/issues/(\d+)", path)) and method == "PATCH":
            issue = self.issues[int(m[1]) - 1]
            issue.update({k: body[k] for k in ("body", "state", "state_reason") if k in body})
            return 200, {}, issue
        return 404, {}, {"message": "Not Found"}

    def page(
        self, path: str, query: dict[str, str], items: list[dict[str, Any]]
    ) -> tuple[int, dict[str, str], Any]:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            extra = "".join(f"&{k}={v}" for k, v in query.items() if k not in ("page", "per_page"))
            nxt = f"{self.base_url}/repos/{REPO}{path}?per_page={per_page}&page={page + 1}{extra}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return 200, headers, chunk


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, headers, payload = fake.handle(self.command, self.path, self.headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(fake: FakeGitHub, tmp_path: Path) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": 7}}))
    return {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": fake.base_url,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
    }


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(env: dict[str, str], sleeps: list[float]) -> Iterator[GitHubClient]:
    with httpx.Client(timeout=5.0) as http:
        yield GitHubClient(
            GitHubContext.from_env(env), http, sleep=sleeps.append, clock=lambda: NOW
        )


def _create(name: str) -> Change:
    spec = RouteSpec.from_dict(
        {"host": f"{name}.acme.org", "routes": [{"prefix": "/", "route": {"service": name}}]}
    )
    return Change(
        route=name,
        action="create",
        file=f"routes/{name}.yaml",
        line=1,
        after=spec.to_dict(redact=True),
        after_fingerprint=spec.fingerprint(),
        labels={"managed-by": "routes", "routes/owner": "acme/gitops"},
    )


def _plan(*changes: Change) -> dict[str, Any]:
    return Plan(
        backend="local:.routes/state.db",
        owner="acme/gitops",
        tool_version="0",
        changes=changes,
        unchanged=2,
    ).to_dict()


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
    assert url == issue["html_url"] and issue["labels"] == ["routes-drift"]
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


def test_an_unknown_repository_reads_as_missing_permission(
    env: dict[str, str], sleeps: list[float]
) -> None:
    ctx = GitHubContext.from_env({**env, "GITHUB_REPOSITORY": "acme/private"})
    with httpx.Client() as http, pytest.raises(GitHubAuthError, match="missing permission"):
        upsert_plan_comment(GitHubClient(ctx, http, sleep=sleeps.append), 7, "plan", "x")


def test_an_unreachable_api_is_a_clear_error(env: dict[str, str], sleeps: list[float]) -> None:
    ctx = GitHubContext.from_env({**env, "GITHUB_API_URL": "http://127.0.0.1:9"})
    with httpx.Client() as http, pytest.raises(GitHubError, match="cannot reach GitHub"):
        upsert_plan_comment(GitHubClient(ctx, http, sleep=sleeps.append), 7, "plan", "x")
    assert len(sleeps) == 4


# ------------------------------------------------------------------ context and outputs


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


# --------------------------------------------------------------------------------- CLI


def test_github_comment_command_upserts_and_writes_outputs(
    fake: FakeGitHub, env: dict[str, str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_plan(_create("shop"))))
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(github_group, ["comment", str(plan_file)], env=env)
        assert result.exit_code == 0, result.output
    (comment,) = fake.comments[7]
    assert result.output.strip() == comment["html_url"]
    assert comment["body"].startswith("<!-- routes-plan: local:.routes/state.db -->")
    assert "shop" in comment["body"]
    assert "has-changes=true" in Path(env["GITHUB_OUTPUT"]).read_text()

    result = runner.invoke(
        github_group, ["comment", str(plan_file), "--target", "prod", "--pr", "9"], env=env
    )
    assert result.exit_code == 0 and "<!-- routes-plan: prod -->" in fake.comments[9][0]["body"]


def test_github_outputs_command_needs_no_token(env: dict[str, str], tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_plan()))
    offline = {k: v for k, v in env.items() if k not in ("GITHUB_TOKEN", "GITHUB_REPOSITORY")}
    result = CliRunner().invoke(github_group, ["outputs", str(plan_file)], env=offline)
    assert result.exit_code == 0, result.output
    assert "has-changes=false" in Path(env["GITHUB_OUTPUT"]).read_text()


def test_a_broken_plan_file_is_a_plan_error(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(github_group, ["comment", str(bad)], env=env)
    assert isinstance(result.exception, PlanError)
    assert "is not a plan file" in str(result.exception)

    half = tmp_path / "half.json"
    half.write_text(json.dumps({"summary": {}, "changes": []}))
    result = CliRunner().invoke(github_group, ["comment", str(half)], env=env)
    assert isinstance(result.exception, PlanError)
    assert "is not a valid plan file" in str(result.exception)


def test_publish_functions_read_the_environment(fake: FakeGitHub, env: dict[str, str]) -> None:
    url = publish_plan(_plan(), None, env=env)
    assert url == fake.comments[7][0]["html_url"]
    assert publish_drift("drifted", True, target="prod", env=env) == fake.issues[0]["html_url"]
