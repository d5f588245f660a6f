"""HTTP answers and transport failures of the control-plane API -> ``reconciler.errors``.

One boundary for the http backend: every message names the server URL and says what to
do, and none carries a header (so never the bearer token).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from reconciler.errors import (
    AuthError,
    BackendError,
    ConflictError,
    InvalidSpecError,
    NotFoundError,
    RoutesError,
    TransientBackendError,
)
from reconciler.retry import parse_retry_after

# 500 too: every write is conditional and read back before a retry, so retrying an
# answer lost to a server error can never write twice (docs/reliability.md).
TRANSIENT_STATUS = {429, 500, 502, 503, 504}
SERVE_HINT = "start it with `routes serve`, or check the URL in --backend / ROUTES_BACKEND"
REPLAN_HINT = "plan again to see the live routes"
# What OpenSSL says when the TLS hello got a plain-HTTP answer (3.0; 3.2 and later).
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE"})


def raise_for_api_error(response: httpx.Response, url: str, doing: str) -> None:
    """Raise the error for a 4xx/5xx answer; return quietly for anything below 400."""
    if response.status_code < 400:
        return
    retry_after = response.headers.get("Retry-After")
    reason = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    raise api_error(response.status_code, _error(response), url, doing, retry_after, reason)


def api_error(
    status: int,
    error: Mapping[str, Any],
    url: str,
    doing: str,
    retry_after: str | None = None,
    reason: str = "",
) -> RoutesError:
    """The error for an answer of ``status`` (400 or more) whose ``{"error": …}`` is ``error``:
    of a whole request, or of one item of a batch."""
    message = _error_message(error, reason or f"HTTP {status}")
    where = f"{url}: cannot {doing}"
    code = str(error.get("code", ""))
    if status == 401:
        return AuthError(
            f"{where}: the server refused the token ({message})",
            hint="set ROUTES_TOKEN to the server's token",
        )
    if status == 403:
        return AuthError(f"{where}: forbidden ({message})", hint="check ROUTES_TOKEN")
    if status == 404 and code not in ("route_not_found", "hostname_not_found"):
        return BackendError(
            f"{where}: {url} has no such endpoint ({message})",
            hint="check that --backend is the base URL of `routes serve` (no path after it)",
        )
    if status == 404:
        return NotFoundError(f"{where}: {message}", hint=REPLAN_HINT)
    if status in (409, 412):
        if _route_is_gone(status, error):
            return NotFoundError(f"{where}: {message}", hint=REPLAN_HINT)
        return ConflictError(f"{where}: {message}", hint="someone else changed it: plan again")
    if status == 422:
        details = _details(error)
        problems = "; ".join(f"{d.get('pointer', '')}: {d.get('message', '')}" for d in details)
        return InvalidSpecError(
            f"{where}: the server rejected the spec: {problems or message}",
            hint="fix the descriptor (`routes validate` shows where)",
            details=details,
        )
    if status in TRANSIENT_STATUS:
        return TransientBackendError(
            f"{where}: HTTP {status} ({message})",
            hint="routes retries this with backoff; if it persists, check the server",
            retry_after=parse_retry_after(retry_after, time.time()),
        )
    return BackendError(f"{where}: HTTP {status} ({message})")


def transport_error(exc: httpx.HTTPError, url: str, doing: str) -> BackendError:
    """The error for a request that got no answer: transient unless TLS refused the server."""
    if isinstance(exc, httpx.TimeoutException):
        return TransientBackendError(
            f"{url} did not answer in time to {doing} ({type(exc).__name__})",
            hint="the server may be overloaded; routes retries this with backoff",
        )
    if isinstance(exc, httpx.ConnectError):
        return _connect_error(exc, url, doing)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return TransientBackendError(
            f"{url} dropped the connection while we tried to {doing}", hint=SERVE_HINT
        )
    return BackendError(f"cannot {doing} on {url}: {type(exc).__name__}")


def _connect_error(exc: httpx.ConnectError, url: str, doing: str) -> BackendError:
    """By the type of what httpx raised it from: TLS refused, or nothing answered."""
    causes = list(_causes(exc))
    tls = next((cause for cause in causes if isinstance(cause, ssl.SSLError)), None)
    if tls is not None and getattr(tls, "reason", None) in _NOT_TLS_REASONS:
        # The TLS hello got a plain-HTTP answer: a CA bundle would not help.
        return BackendError(
            f"cannot {doing}: {url} does not speak TLS",
            hint="use http:// for this server, or start `routes serve` with --tls-cert",
        )
    if tls is not None:  # ssl.SSLCertVerificationError, or a handshake the server broke off
        return BackendError(
            f"cannot {doing}: TLS verification of {url} failed",
            hint="set ROUTES_CA_BUNDLE to the CA file that signed the server's certificate",
        )
    refused = any(isinstance(cause, ConnectionRefusedError) for cause in causes)
    why = "connection refused" if refused else "cannot connect"
    return TransientBackendError(
        f"cannot {doing}: {why} at {url}: is `routes serve` running?", hint=SERVE_HINT
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it was raised from or while handling (httpx -> httpcore -> ssl)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def error_code(response: httpx.Response) -> str:
    """The ``error.code`` of an API error answer ('' when there is none)."""
    return str(_error(response).get("code", ""))


def _error(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _error_message(error: Mapping[str, Any], fallback: str) -> str:
    message = error.get("message")
    if message:
        return str(message)[:500]
    return fallback


def _details(error: Mapping[str, Any]) -> list[dict[str, str]]:
    details = error.get("details")
    if not isinstance(details, list):
        return []
    return [{str(k): str(v) for k, v in d.items()} for d in details if isinstance(d, dict)]


def _route_is_gone(status: int, error: Mapping[str, Any]) -> bool:
    """A 412 whose details say the route does not exist (If-Match on a missing route)."""
    details = error.get("details")
    if status != 412 or not isinstance(details, list):
        return False
    return any(isinstance(d, dict) and d.get("currentVersion", "") is None for d in details)
