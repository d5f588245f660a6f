"""Backends by URL scheme. Factories import lazily so startup stays fast."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.backends.base import Backend
from reconciler.backends.options import BackendOptions
from reconciler.errors import UsageError

__all__ = [
    "BACKENDS",
    "open_backend",
    "scheme_of",
]

BackendFactory = Callable[[str, BackendOptions], Backend]


def _memory(url: str, options: BackendOptions) -> Backend:
    from reconciler.backends.memory import MemoryBackend

    return MemoryBackend(url)


def _local(url: str, options: BackendOptions) -> Backend:
    from reconciler.backends.local import open_local

    return open_local(url, options.local)


def _akka(url: str, options: BackendOptions) -> Backend:
    from reconciler.backends.akka.backend import open_akka

    return open_akka(url, options.akka)


def _http(url: str, options: BackendOptions) -> Backend:
    from reconciler.backends.http.client import open_http

    return open_http(url, options.http)


def _caddy(url: str, options: BackendOptions) -> Backend:
    from reconciler.backends.caddy.backend import open_caddy

    return open_caddy(url, options.caddy)


BACKENDS: dict[str, BackendFactory] = {
    "memory": _memory,
    "local": _local,
    "http": _http,
    "https": _http,
    "caddy+http": _caddy,
    "akka": _akka,
    "kalix": _akka,
}


def scheme_of(url: str) -> str:
    return url.split(":", 1)[0].lower() if ":" in url else url.lower()


def open_backend(url: str, options: BackendOptions | None = None) -> Backend:
    """The backend for ``url``, given its options (``Settings.backend_options()``)."""
    scheme = scheme_of(url)
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise UsageError(
            f"unknown backend URL {url!r}",
            hint=f"use one of the schemes: {known} (see README, 'Backends')",
        )
    from reconciler.backends.checked import CheckedBackend

    return CheckedBackend(factory(url, options or BackendOptions()))
