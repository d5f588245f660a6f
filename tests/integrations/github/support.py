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
