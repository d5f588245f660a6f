"""Talking to Caddy's admin API: requests, ETags, and Caddy's answers as our errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from reconciler.errors import BackendError, InvalidSpecError, TransientBackendError
from reconciler.retry import parse_retry_after

try:  # a C implementation: hashing a 1 MB config in pure Python takes a quarter second
    from fnv_hash_fast import fnv1a_32 as _fast_fnv1a_32
except ImportError:  # pragma: no cover - depends on the environment
    _fast_fnv1a_32 = None  # type: ignore[assignment]


def fnv32a(data: bytes) -> str:
    """The hash Caddy's admin API puts in its ETag (FNV-1a, 32 bits, hex)."""
    if _fast_fnv1a_32 is not None:
        return f"{_fast_fnv1a_32(data):08x}"
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


def request(
    client: httpx.Client, admin_url: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """One admin API request; transport failures become our errors."""
    # Caddy restarts its admin server on each config load, which resets kept-alive
    # connections: one connection per request avoids writing into a dead socket.
    headers = {**kwargs.pop("headers", {}), "Connection": "close"}
    try:
        return client.request(method, path, headers=headers, **kwargs)
    except httpx.ConnectError as exc:
        raise BackendError(
            f"cannot reach the Caddy admin API at {admin_url}: {exc}",
            hint="is Caddy running? start it with `caddy run` (admin address in its config)",
        ) from exc
    except httpx.TimeoutException as exc:
        raise TransientBackendError(
            f"the Caddy admin API at {admin_url} timed out ({method} {path})"
        ) from exc
    except httpx.HTTPError as exc:
        raise TransientBackendError(
            f"talking to the Caddy admin API at {admin_url} failed: {exc}"
        ) from exc


def refused(response: httpx.Response) -> bool:
    """Caddy would not load the config we sent: trying the same again cannot help."""
    # A config Caddy cannot provision (say, a certificate file without PEM data) comes back
    # as a 500 whose error starts "loading new config"; that is the config's fault, not load.
    return response.status_code == 400 or (
        response.status_code == 500 and "loading new config" in _error_text(response)
    )


def raise_for_admin_error(response: httpx.Response, admin_url: str, name: str | None) -> None:
    """Raise our error for a failed answer; ``name`` is the one route a refused write held."""
    if response.is_success:
        return
    detail = _error_text(response)
    where = f"{response.request.method} {admin_url}{response.request.url.path}"
    if refused(response) and name is not None:
        raise InvalidSpecError(
            f"Caddy refused the config for route {name!r}: {detail}",
            hint="check the caddy: section of .routes.yaml (upstreams, secret files)",
        )
    if response.status_code == 429 or (response.status_code >= 500 and not refused(response)):
        raise TransientBackendError(
            f"Caddy answered {response.status_code} to {where}: {detail}",
            retry_after=parse_retry_after(response.headers.get("Retry-After"), time.time()),
        )
    raise BackendError(f"Caddy answered {response.status_code} to {where}: {detail}")


@contextmanager
def foreign_config(admin_url: str) -> Iterator[None]:
    """A config tree of a shape routes never writes (a hand edit) as a ``BackendError``."""
    try:
        yield
    except (AttributeError, TypeError, KeyError, IndexError, ValueError, RecursionError) as exc:
        raise BackendError(
            f"the Caddy config on {admin_url} holds something routes cannot read "
            f"({type(exc).__name__}: {str(exc)[:200]})",
            hint="fix the hand-edited part of Caddy's config (GET /config/apps shows it), "
            "then run the command again",
        ) from exc


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return response.text.strip()[:500]
    return str(body.get("error", body))[:500] if isinstance(body, dict) else str(body)[:500]
