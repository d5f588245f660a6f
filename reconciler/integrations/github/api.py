"""GitHub REST API v3 over httpx: the run's context from its environment, and a client.

As GitHub documents it: bearer token, versioned media type, Link pagination, redirects
(301, 302 and 307 repeat the request at the new place), primary and secondary rate limits
(the secondary waits grow exponentially). A POST is never sent twice blindly: when its
outcome is unknown (a 5xx, a read timeout) ``GitHubOutcomeUnknown`` lets the caller look for
what it would have created before it creates again (``once``). Every failure becomes a
``GitHubError`` that says what to fix; the token never appears in a message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx

from reconciler.errors import ConfigError, RoutesError
from reconciler.regular_files import read_regular
from reconciler.retry import RetryPolicy, parse_retry_after, run_with_retries

API_VERSION = "2022-11-28"
DEFAULT_AUTHOR = "github-actions[bot]"  # who writes comments with the workflow's GITHUB_TOKEN
T = TypeVar("T")
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 307, 308})
_MAX_REDIRECTS = 5
# 1, 2, 4, 8 s between five attempts; no jitter: one job's client is no thundering herd.
_RETRY = RetryPolicy(attempts=5, base=1.0, cap=30.0, jitter=False)
_MAX_WAIT = 900.0  # beyond this a rate-limit wait would only burn the job's minutes
# GitHub: without retry-after, wait at least a minute, then exponentially longer.
_SECONDARY = RetryPolicy(base=60.0, cap=_MAX_WAIT, jitter=False)
_SECONDARY_DEFAULT_WAIT = 60.0
# Failures before the request left: it was not sent, so sending it again is no repeat.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class GitHubError(RoutesError):
    """GitHub refused or failed a request."""


class GitHubAuthError(GitHubError):
    """The token is missing its permission or is not valid at all."""


class GitHubReadOnlyError(GitHubAuthError):
    """The token may read but not write (pull requests from forks, Dependabot)."""


class GitHubNotFoundError(GitHubError):
    """404: the repository, pull request, issue or comment is not there (or not visible)."""


class GitHubGoneError(GitHubError):
    """410: issues are disabled in the repository, or the thing was deleted."""


class GitHubRateLimitError(GitHubError):
    """The rate limit resets too far in the future to wait for."""


class GitHubOutcomeUnknown(GitHubError):
    """A POST whose outcome GitHub did not tell: look before sending it again."""


class _TryAgain(Exception):
    """A failure another request may cure; ``final`` is raised when no attempt is left."""

    def __init__(self, final: GitHubError, retry_after: float | None = None) -> None:
        super().__init__(final.message)
        self.final = final
        self.retry_after = retry_after
        self.secondary = False  # a secondary rate limit: the next one waits twice as long


@dataclass(frozen=True)
class GitHubContext:
    """What a workflow run tells us about itself through its environment."""

    token: str | None = field(repr=False)
    repository: str | None
    api_url: str = "https://api.github.com"
    pr_number: int | None = None
    step_summary: Path | None = None
    output: Path | None = None
    author: str = DEFAULT_AUTHOR  # the login our comments and issues are written by

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
            author=env.get("ROUTES_GITHUB_AUTHOR") or DEFAULT_AUTHOR,
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
        event = json.loads(read_regular(event_path).decode("utf-8"))
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
        self._retry = replace(_RETRY, sleep=sleep, clock=clock)
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
        repeatable: bool | None = None,
    ) -> httpx.Response:
        """Send one request with retries; statuses in ``accept`` are returned, not raised.

        A request that is not ``repeatable`` (by default: a POST) is sent again only when it
        surely did not arrive or was refused; else ``GitHubOutcomeUnknown`` is raised."""
        url = path if path.startswith("http") else f"{self.ctx.api_url}{path}"
        repeat = method != "POST" if repeatable is None else repeatable
        secondary_limits = 0

        def attempt(_: int) -> httpx.Response:
            nonlocal secondary_limits
            try:
                response = self._send(method, url, params, body)
            except httpx.TransportError as exc:
                unreachable = GitHubError(
                    f"cannot reach GitHub at {self.ctx.api_url}: {exc}",
                    hint="check GITHUB_API_URL and the runner's network",
                )
                if repeat or isinstance(exc, _NOT_SENT):
                    raise _TryAgain(unreachable) from exc
                raise self._unknown(method, path, f"no answer ({exc})") from exc
            if response.is_success or response.status_code in accept:
                return response
            error = self._error(response, method, path, permission)
            if response.status_code in _RETRY_STATUSES:
                if not repeat:
                    raise self._unknown(method, path, f"HTTP {response.status_code}")
                raise _TryAgain(error)
            limited = self._rate_limited(response, secondary_limits + 1)
            if isinstance(limited, _TryAgain) and limited.secondary:
                secondary_limits += 1
            raise limited or error

        try:
            return run_with_retries(attempt, self._retry, retry_on=_TryAgain)
        except _TryAgain as last:
            raise last.final from last.__cause__

    def once(self, operation: Callable[[], T]) -> T:
        """``operation()``, run again after a ``GitHubOutcomeUnknown``: it must look for what
        its POST would have created before it posts, so nothing is ever created twice."""
        return run_with_retries(lambda _: operation(), self._retry, retry_on=GitHubOutcomeUnknown)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        body: Mapping[str, Any] | None,
    ) -> httpx.Response:
        """One request, following GitHub's redirects with the same method and body, never
        to another host (the token goes only where GITHUB_API_URL points)."""
        home = httpx.URL(self.ctx.api_url)
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._http.request(
                method, url, params=params, json=body, headers=self._headers,
                follow_redirects=False,
            )  # fmt: skip
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            target = response.url.join(location)
            if (target.scheme, target.host, target.port) != (home.scheme, home.host, home.port):
                raise GitHubError(
                    f"GitHub redirected {method} {url.split('?')[0]} to another host "
                    f"({target.host}); routes sends its token to {home.host} only",
                    hint="set GITHUB_API_URL to the API that answers for the repository",
                )
            url, params = str(target), None  # the new location carries its query
        raise GitHubError(
            f"GitHub redirected {method} {url.split('?')[0]} more than {_MAX_REDIRECTS} times",
            hint="check GITHUB_API_URL and GITHUB_REPOSITORY",
        )

    def _unknown(self, method: str, path: str, what: str) -> GitHubOutcomeUnknown:
        return GitHubOutcomeUnknown(
            f"GitHub did not say whether {method} {path.split('?')[0]} was done ({what})",
            hint="re-run the job: routes looks for what it may have created before creating it",
        )

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

    def _rate_limited(self, response: httpx.Response, secondary: int) -> Exception | None:
        """The rate-limit answer's error, worth waiting for or not; None if it is none.
        ``secondary`` counts this request's secondary limits, this one included."""
        status = response.status_code
        headers = response.headers
        if status not in (403, 429):
            return None
        now = self._retry.clock()
        if headers.get("retry-after"):
            wait = parse_retry_after(headers["retry-after"], now)
            wait = _SECONDARY_DEFAULT_WAIT if wait is None else wait
        elif headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            wait = max(0.0, _seconds(headers["x-ratelimit-reset"]) - now) + 1.0
        elif status == 429 or "secondary rate limit" in error_message(response).lower():
            wait = _SECONDARY.delay(secondary, None)
            again = _TryAgain(_limited(status, self.repository), retry_after=wait)
            again.secondary = True
            return again
        else:
            return None  # a 403 without rate-limit signs is a permission problem
        limited = _limited(status, self.repository)
        return limited if wait > _MAX_WAIT else _TryAgain(limited, retry_after=wait)

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
        if status == 403 and method != "GET":
            return GitHubReadOnlyError(
                f"missing permission: the token cannot write to {self.repository}; it needs "
                f"`{permission}` (GitHub answered 403 to {where}: {error_message(response)})",
                hint=f"add `permissions: {{{permission}}}` to the workflow; pull requests "
                "from forks and Dependabot always get a read-only token",
            )
        if status == 403:
            return GitHubAuthError(
                f"missing permission: the token needs `{permission}` on {self.repository} "
                f"(GitHub answered 403 to {where}: {error_message(response)})",
                hint=f"add `permissions: {{{permission}}}` to the workflow job",
            )
        if status == 404:
            return GitHubNotFoundError(
                f"not found: GitHub answered 404 to {where} ({error_message(response)}): "
                f"{self.repository} or the pull request, issue or comment it names does not "
                "exist, or the token cannot see it",
                hint="check GITHUB_REPOSITORY and the pull request number; a private "
                "repository answers 404 to a token that may not read it",
            )
        if status == 410:
            return GitHubGoneError(
                f"gone: GitHub answered 410 to {where} ({error_message(response)}): issues "
                f"are disabled in {self.repository}, or the issue was deleted",
                hint="enable Issues in the repository's settings (General, Features), "
                "or run drift without --github-issue",
            )
        return GitHubError(
            f"GitHub answered {status} to {where}: {error_message(response)}",
            hint="see the GitHub status page, or re-run the job",
        )


def _limited(status: int, repository: str) -> GitHubRateLimitError:
    return GitHubRateLimitError(
        f"GitHub rate limit exceeded (HTTP {status}) for {repository}",
        hint="wait for the limit to reset, or run fewer jobs with this token",
    )


def _seconds(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return _SECONDARY_DEFAULT_WAIT


def error_message(response: httpx.Response) -> str:
    """The `message` of a GitHub error body, or the status reason."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    message = payload.get("message") if isinstance(payload, dict) else None
    return str(message or response.reason_phrase)
