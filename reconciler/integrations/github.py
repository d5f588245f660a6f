"""GitHub: the plan as a pull-request comment, drift as an issue, step outputs for the Action.

REST API v3 over httpx, as GitHub documents it: bearer token, versioned media type, Link
pagination, primary and secondary rate limits. Every failure becomes a ``GitHubError`` that
says which permission or setting to fix; the token never appears in a message.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reconciler.errors import ConfigError, RoutesError

API_VERSION = "2022-11-28"
COMMENT_LIMIT = 65_536  # GitHub's maximum body length for comments and issues
DRIFT_LABEL = "routes-drift"
OUTPUT_KEYS = ("has-changes", "add", "change", "destroy", "plan-file")
COMMENTS_PERMISSION = "pull-requests: write"
ISSUES_PERMISSION = "issues: write"
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_MAX_ATTEMPTS = 5
_MAX_WAIT = 900.0  # beyond this a rate-limit wait would only burn the job's minutes
_SECONDARY_DEFAULT_WAIT = 60.0


class GitHubError(RoutesError):
    """GitHub refused or failed a request."""


class GitHubAuthError(GitHubError):
    """The token is missing its permission or is not valid at all."""


class GitHubRateLimitError(GitHubError):
    """The rate limit resets too far in the future to wait for."""


@dataclass(frozen=True)
class GitHubContext:
    """What a workflow run tells us about itself through its environment."""

    token: str | None = field(repr=False)
    repository: str | None
    api_url: str = "https://api.github.com"
    pr_number: int | None = None
    step_summary: Path | None = None
    output: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, require_api: bool = True) -> GitHubContext:
        """Read GITHUB_* variables; with ``require_api``, token and repository must be set."""
        token = env.get("GITHUB_TOKEN") or None
        repository = env.get("GITHUB_REPOSITORY") or None
        if require_api and token is None:
            raise ConfigError(
                "GITHUB_TOKEN is not set",
                hint="pass `github-token` to the action or export GITHUB_TOKEN",
            )
        if require_api and repository is None:
            raise ConfigError(
                "GITHUB_REPOSITORY is not set",
                hint="export GITHUB_REPOSITORY=owner/repo (GitHub Actions sets it for you)",
            )
        if repository is not None and repository.count("/") != 1:
            raise ConfigError(
                f"GITHUB_REPOSITORY={repository!r} is not of the form owner/repo",
                hint="set GITHUB_REPOSITORY=owner/repo",
            )
        return cls(
            token=token,
            repository=repository,
            api_url=(env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
            pr_number=_pr_from_event(env.get("GITHUB_EVENT_PATH")),
            step_summary=_optional_path(env.get("GITHUB_STEP_SUMMARY")),
            output=_optional_path(env.get("GITHUB_OUTPUT")),
        )

    def require_pr(self) -> int:
        """The pull request this run belongs to, or a clear error when there is none."""
        if self.pr_number is None:
            raise ConfigError(
                "this run does not belong to a pull request",
                hint="run on `pull_request` events, or pass the number with --pr",
            )
        return self.pr_number


def _optional_path(raw: str | None) -> Path | None:
    return Path(raw) if raw else None


def _pr_from_event(event_path: str | None) -> int | None:
    if not event_path:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the GitHub event file {event_path}: {exc}",
            hint="GITHUB_EVENT_PATH must name the event JSON that GitHub Actions writes",
        ) from exc
    for key in ("pull_request", "issue"):
        number = (event.get(key) or {}).get("number") if isinstance(event, dict) else None
        if isinstance(number, int):
            return number
    return None


class GitHubClient:
    """A small REST client: retries, rate limits and errors in GitHub's documented shape."""

    def __init__(
        self,
        ctx: GitHubContext,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ctx.token or not ctx.repository:
            raise ConfigError(
                "GITHUB_TOKEN and GITHUB_REPOSITORY must be set to talk to GitHub",
                hint="run inside GitHub Actions or export both variables",
            )
        self.ctx = ctx
        self.repository = ctx.repository
        self._http = client or httpx.Client(timeout=30.0)
        self._sleep = sleep
        self._clock = clock
        self._headers = {
            "Authorization": f"Bearer {ctx.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "routes-reconciler",
        }

    def request(
        self,
        method: str,
        path: str,
        *,
        permission: str,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request with retries; statuses in ``accept`` are returned, not raised."""
        url = path if path.startswith("http") else f"{self.ctx.api_url}{path}"
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                response = self._http.request(
                    method, url, params=params, json=body, headers=self._headers
                )
            except httpx.TransportError as exc:
                if attempt == _MAX_ATTEMPTS:
                    raise GitHubError(
                        f"cannot reach GitHub at {self.ctx.api_url}: {exc}",
                        hint="check GITHUB_API_URL and the runner's network",
                    ) from exc
                self._sleep(_backoff(attempt))
                continue
            if response.is_success or response.status_code in accept:
                return response
            wait = self._retry_wait(response, attempt)
            if wait is None:
                raise self._error(response, method, path, permission)
            self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def paginate(
        self, path: str, *, permission: str, params: Mapping[str, str | int] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following ``Link: rel="next"`` pages."""
        url: str | None = path
        query: Mapping[str, str | int] | None = {**(params or {}), "per_page": 100}
        while url is not None:
            response = self.request("GET", url, permission=permission, params=query)
            yield from response.json()
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query already

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when retrying cannot help."""
        status = response.status_code
        headers = response.headers
        if status in _RETRY_STATUSES:
            return _backoff(attempt) if attempt < _MAX_ATTEMPTS else None
        if status not in (403, 429):
            return None
        if headers.get("retry-after"):
            wait = _seconds(headers["retry-after"])
        elif headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            wait = max(0.0, _seconds(headers["x-ratelimit-reset"]) - self._clock()) + 1.0
        elif status == 429 or "secondary rate limit" in _message(response).lower():
            wait = _SECONDARY_DEFAULT_WAIT
        else:
            return None  # a 403 without rate-limit signs is a permission problem
        if attempt == _MAX_ATTEMPTS or wait > _MAX_WAIT:
            raise GitHubRateLimitError(
                f"GitHub rate limit exceeded (HTTP {status}) for {self.repository}",
                hint="wait for the limit to reset, or run fewer jobs with this token",
            )
        return wait

    def _error(
        self, response: httpx.Response, method: str, path: str, permission: str
    ) -> GitHubError:
        status = response.status_code
        where = f"{method} {path.split('?')[0]}"
        if status == 401:
            return GitHubAuthError(
                f"GITHUB_TOKEN is invalid: GitHub answered 401 to {where}",
                hint="pass a valid token (the action's `github-token` input)",
            )
        if status in (403, 404):
            return GitHubAuthError(
                f"missing permission: the token needs `{permission}` on {self.repository} "
                f"(GitHub answered {status} to {where}: {_message(response)})",
                hint=f"add `permissions: {{{permission}}}` to the workflow job "
                "and check GITHUB_REPOSITORY",
            )
        return GitHubError(
            f"GitHub answered {status} to {where}: {_message(response)}",
            hint="see the GitHub status page, or re-run the job",
        )


def _backoff(attempt: int) -> float:
    return float(min(2 ** (attempt - 1), 30))


def _seconds(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return _SECONDARY_DEFAULT_WAIT


def _message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    message = payload.get("message") if isinstance(payload, dict) else None
    return str(message or response.reason_phrase)


def marker(kind: str, target: str) -> str:
    """The hidden HTML comment that finds our comment or issue again on the next run."""
    safe = " ".join(target.replace("--", "-").split()) or "default"
    return f"<!-- routes-{kind}: {safe} -->"


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
    for comment in client.paginate(comments, permission=COMMENTS_PERMISSION):
        if tag in (comment.get("body") or ""):
            url = f"/repos/{client.repository}/issues/comments/{comment['id']}"
            done = client.request("PATCH", url, permission=COMMENTS_PERMISSION, body={"body": text})
            return str(done.json()["html_url"])
    done = client.request("POST", comments, permission=COMMENTS_PERMISSION, body={"body": text})
    return str(done.json()["html_url"])


def sync_drift_issue(
    client: GitHubClient, report_markdown: str, drifted: bool, target: str
) -> str | None:
    """Keep one open drift issue per target in step with the drift report; return its URL."""
    tag = marker("drift", target)
    issues = f"/repos/{client.repository}/issues"
    existing = next(
        (
            issue
            for issue in client.paginate(
                issues,
                permission=ISSUES_PERMISSION,
                params={"state": "open", "labels": DRIFT_LABEL},
            )
            if "pull_request" not in issue and tag in (issue.get("body") or "")
        ),
        None,
    )
    text = fit_body(f"{tag}\n{report_markdown}")
    if drifted and existing is not None:
        url = f"{issues}/{existing['number']}"
        client.request("PATCH", url, permission=ISSUES_PERMISSION, body={"body": text})
        return str(existing["html_url"])
    if drifted:
        _ensure_label(client)
        created = client.request(
            "POST",
            issues,
            permission=ISSUES_PERMISSION,
            body={"title": f"Route drift: {target}", "body": text, "labels": [DRIFT_LABEL]},
        )
        return str(created.json()["html_url"])
    if existing is None:
        return None
    number = existing["number"]
    client.request(
        "POST",
        f"{issues}/{number}/comments",
        permission=ISSUES_PERMISSION,
        body={"body": "Live state matches the descriptors again."},
    )
    client.request(
        "PATCH",
        f"{issues}/{number}",
        permission=ISSUES_PERMISSION,
        body={"state": "closed", "state_reason": "completed"},
    )
    return str(existing["html_url"])


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
    )
    if response.status_code == 422 and "already_exists" not in response.text:
        raise GitHubError(
            f"cannot create the label {DRIFT_LABEL!r}: {_message(response)}",
            hint=f"create the label {DRIFT_LABEL!r} in the repository by hand",
        )


def write_step_outputs(
    ctx: GitHubContext, plan_dict: Mapping[str, Any], plan_file: str | None, markdown: str
) -> None:
    """Append the markdown to the step summary and the plan's counts to the step outputs."""
    summary = plan_dict.get("summary") or {}
    counts = {key: int(summary.get(key, 0)) for key in ("add", "change", "destroy")}
    values = {
        "has-changes": "true" if any(counts.values()) else "false",
        **{key: str(n) for key, n in counts.items()},
        "plan-file": plan_file or "",
    }
    try:
        if ctx.step_summary is not None:
            with ctx.step_summary.open("a", encoding="utf-8") as out:
                out.write(markdown if markdown.endswith("\n") else markdown + "\n")
        if ctx.output is not None:
            with ctx.output.open("a", encoding="utf-8") as out:
                out.writelines(_output_entry(key, values[key]) for key in OUTPUT_KEYS)
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
