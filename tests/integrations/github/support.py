"""A fake GitHub REST API served on 127.0.0.1, its fixtures, and plans to publish.

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

from reconciler.integrations.github.comment import GitHubClient, GitHubContext
from reconciler.model import RouteSpec
from reconciler.plan import Change, Plan
from tests.integrations.github.openapi import SPEC, Exchange, github_description
from tests.node_tools import node_modules

TOKEN = "ghs_test-token-value"
REPO = "acme/gitops"
NOW = 1_700_000_000.0
_DOCS = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
_STAMP = "2023-11-14T22:13:20Z"
BOT = "github-actions[bot]"


def user(login: str, kind: str = "User", uid: int = 583231) -> dict[str, Any]:
    """A `simple-user` as GitHub answers it."""
    api = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": f"U_{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": kind,
        "site_admin": False,
    }


BOT_USER = user(BOT, "Bot", 41898282)
HUMAN = user("octocat")


@dataclass
class FakeGitHub:
    """State of the fake: comments per issue, issues, labels, queued faults, request log.

    ``faults`` answer the next requests instead of the fake; ``lost`` does the next
    successful writes and then loses their answer (a status, or 0 to hang up without one); ``moved``
    answers a request under one path prefix with a 301 to another. ``exchanges`` records
    every request and answer, checked against GitHub's API description after each test.
    """

    base_url: str = ""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    faults: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    identity: dict[str, Any] = field(default_factory=lambda: BOT_USER)  # the token's user
    log: list[tuple[str, str]] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    next_id: int = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add_comment(self, number: int, body: str, author: dict[str, Any] = HUMAN) -> dict[str, Any]:
        cid = self.new_id()
        api = f"https://api.github.com/repos/{REPO}"
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{api}/issues/comments/{cid}",
            "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-{cid}",
            "issue_url": f"{api}/issues/{number}",
            "body": body,
            "user": author,
            "created_at": _STAMP,
            "updated_at": _STAMP,
            "author_association": "NONE" if author["type"] == "Bot" else "CONTRIBUTOR",
        }
        self.comments.setdefault(number, []).append(comment)
        return comment

    def add_issue(
        self, title: str, body: str, labels: list[str], author: dict[str, Any] = HUMAN
    ) -> dict[str, Any]:
        number = len(self.issues) + 1
        api = f"https://api.github.com/repos/{REPO}/issues/{number}"
        issue = {
            "id": 9000 + number,
            "node_id": f"I_{number}",
            "url": api,
            "repository_url": f"https://api.github.com/repos/{REPO}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"https://github.com/{REPO}/issues/{number}",
            "number": number,
            "state": "open",
            "state_reason": None,
            "title": title,
            "body": body,
            "user": author,
            "labels": [self.label(name) for name in labels],
            "assignee": None,
            "milestone": None,
            "locked": False,
            "comments": 0,
            "closed_at": None,
            "created_at": _STAMP,
            "updated_at": _STAMP,
            "author_association": "NONE" if author["type"] == "Bot" else "OWNER",
        }
        self.issues.append(issue)
        return issue

    @staticmethod
    def label(name: str) -> dict[str, Any]:
        return {
            "id": 208045946,
            "node_id": "LA_1",
            "url": f"https://api.github.com/repos/{REPO}/labels/{name}",
            "name": name,
            "description": "Live routes differ from the descriptors",
            "color": "d93f0b",
            "default": False,
        }

    def handle(
        self, method: str, url: str, headers: Any, body: Any
    ) -> tuple[int, dict[str, str], Any]:
        self.log.append((method, url))
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        status, answer_headers, answer, injected = self._answer(method, url, headers, body)
        self.exchanges.append(
            Exchange(method, parts.path, query, body, status, answer, injected=injected)
        )
        return status, answer_headers, answer

    def _answer(
        self, method: str, url: str, headers: Any, body: Any
    ) -> tuple[int, dict[str, str], Any, bool]:
        if self.faults:
            return (*self.faults.pop(0), True)
        for old, new in self.moved.items():
            if url.startswith(old):
                location = self.base_url + new + url.removeprefix(old)
                return 301, {"Location": location}, {"message": "Moved Permanently"}, True
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"message": "Bad credentials", "documentation_url": _DOCS}, True
        if headers.get("Accept") != "application/vnd.github+json" or not headers.get(
            "X-GitHub-Api-Version"
        ):
            return 400, {}, {"message": "missing API version headers"}, True
        if self.read_only and method != "GET":
            forbidden = {
                "message": "Resource not accessible by integration",
                "documentation_url": _DOCS,
            }
            return 403, {}, forbidden, True
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path.removeprefix(f"/repos/{REPO}")
        if path == parts.path:
            return 404, {}, {"message": "Not Found", "documentation_url": _DOCS}, False
        status, answer_headers, answer = self.route(method, path, query, body)
        if self.lost and method != "GET" and status in (200, 201):
            return self.lost.pop(0), {}, {"message": "Server Error"}, True
        return status, answer_headers, answer, False

    def route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if m := re.fullmatch(r"/issues/(\d+)/comments", path):
            number = int(m[1])
            if method == "GET":
                return self.page(path, query, self.comments.get(number, []))
            return 201, {}, self.add_comment(number, body["body"], self.identity)
        if (m := re.fullmatch(r"/issues/comments/(\d+)", path)) and method == "PATCH":
            for comments in self.comments.values():
                for comment in comments:
                    if comment["id"] == int(m[1]):
                        if comment["user"] != self.identity:  # nobody edits another's
                            return 403, {}, {"message": "Forbidden", "documentation_url": _DOCS}
                        comment["body"] = body["body"]
                        return 200, {}, comment
            return 404, {}, {"message": "Not Found", "documentation_url": _DOCS}
        if path == "/labels" and method == "POST":
            if body["name"] in self.labels:
                errors = [{"resource": "Label", "code": "already_exists", "field": "name"}]
                return 422, {}, {"message": "Validation Failed", "errors": errors,
                                 "documentation_url": _DOCS}  # fmt: skip
            self.labels.add(body["name"])
            return 201, {}, self.label(body["name"])
        if path == "/issues" and method == "GET":
            wanted = set(filter(None, query.get("labels", "").split(",")))
            state = query.get("state", "open")
            found = [
                i
                for i in self.issues
                if (state == "all" or i["state"] == state)
                and wanted <= {label["name"] for label in i["labels"]}
            ]
            return self.page(path, query, found)
        if path == "/issues" and method == "POST":
            missing = set(body.get("labels", [])) - self.labels
            if missing:  # be strict: routes creates its label before using it
                return 422, {}, {"message": f"unknown labels {sorted(missing)}",
                                 "documentation_url": _DOCS}  # fmt: skip
            labels = body.get("labels", [])
            issue = self.add_issue(body["title"], body["body"], labels, self.identity)
            return 201, {}, issue
        if (m := re.fullmatch(r"/issues/(\d+)", path)) and method == "PATCH":
            issue = self.issues[int(m[1]) - 1]
            issue.update({k: body[k] for k in ("body", "state", "state_reason") if k in body})
            if issue["state"] == "closed":
                issue["closed_at"] = _STAMP
            return 200, {}, issue
        return 404, {}, {"message": "Not Found", "documentation_url": _DOCS}

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
            if status == 0:  # the answer is lost: hang up without one
                self.close_connection = True
                return
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
    if (node_modules() / SPEC).exists():  # else test_openapi skips (or fails under CI)
        described = github_description()
        problems = [p for exchange in state.exchanges for p in described.problems(exchange)]
        assert problems == [], "requests or answers GitHub's API description does not allow"


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
