"""Where an http backend connects, checked before anything is sent: the URL names a host and
carries no credentials, and TLS verification is on unless a private CA is named."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit, urlunsplit

import httpx

from reconciler.errors import ConfigError, UsageError

__all__ = ["check_url", "tls_verification", "without_userinfo"]


def check_url(url: str) -> None:
    """Refuse a backend URL without a host or with ``user:password@`` in it."""
    if not httpx.URL(url).host:
        raise UsageError(
            f"backend URL {without_userinfo(url)!r} names no host",
            hint="use http://HOST:PORT or https://HOST:PORT, e.g. http://127.0.0.1:8900",
        )
    if "@" in urlsplit(url).netloc:
        # Credentials in a URL end up in shell history and CI logs, and httpx would send them
        # as Basic auth in place of the bearer token.
        raise UsageError(
            f"backend URL {without_userinfo(url)!r} carries credentials",
            hint="drop `user:password@` from the URL and put the token in ROUTES_TOKEN",
        )


def tls_verification(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """Verification on by default; ``ca_bundle`` (ROUTES_CA_BUNDLE) trusts a private CA."""
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot read the CA bundle {ca_bundle} (ROUTES_CA_BUNDLE): "
            f"{getattr(exc, 'strerror', None) or exc}",
            hint="point ROUTES_CA_BUNDLE at a PEM file holding the CA certificate(s)",
        ) from exc


def without_userinfo(url: str) -> str:
    """``url`` without ``user:password@``, so credentials never reach a message."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
