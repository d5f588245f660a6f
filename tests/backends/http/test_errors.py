"""Transport failures of the http backend -> our errors, by the type of what httpx raised
them from (httpx -> httpcore -> ssl / OSError), as httpx's own map_httpcore_exceptions does."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from reconciler.backends.http.errors import transport_error
from reconciler.errors import BackendError, TransientBackendError

URL = "https://control.test:8900"


def connect_error(message: str, cause: BaseException) -> httpx.ConnectError:
    """An ``httpx.ConnectError`` chained as httpx raises it: from httpcore's, from ``cause``."""
    try:
        try:
            raise cause
        except BaseException as inner:
            raise httpx.ConnectError(str(inner)) from inner
    except httpx.ConnectError as outer:
        try:
            raise httpx.ConnectError(message) from outer
        except httpx.ConnectError as exc:
            return exc


def ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] ({reason.lower()})")
    error.reason = reason
    return error


def verify_failed() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
    error.reason = "CERTIFICATE_VERIFY_FAILED"
    return error


@pytest.mark.parametrize(
    ("cause", "message", "transient"),
    [
        (ssl_error("WRONG_VERSION_NUMBER"), f"cannot list routes: {URL} does not speak TLS", False),
        (ssl_error("RECORD_LAYER_FAILURE"), f"cannot list routes: {URL} does not speak TLS", False),
        (verify_failed(), f"cannot list routes: TLS verification of {URL} failed", False),
        (ssl_error("TLSV1_ALERT_INTERNAL_ERROR"), "TLS verification", False),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused at", True),
        (socket.gaierror(-2, "Name or service not known"), "cannot connect at", True),
    ],
)
def test_a_connect_failure_by_its_cause(
    cause: BaseException, message: str, transient: bool
) -> None:
    error = transport_error(connect_error("connect failed", cause), URL, "list routes")
    assert message in error.message
    assert isinstance(error, BackendError)
    assert isinstance(error, TransientBackendError) is transient


def test_words_in_the_message_do_not_decide() -> None:
    # A host whose name says SSL and certificate is not a TLS failure when nothing answers.
    cause = socket.gaierror(-2, "Name or service not known: ssl-certificate.test")
    error = transport_error(connect_error(str(cause), cause), URL, "list routes")
    assert isinstance(error, TransientBackendError)
    assert "cannot connect at" in error.message and "ROUTES_CA_BUNDLE" not in (error.hint or "")


def test_a_cause_chain_that_loops_ends() -> None:
    first, second = OSError("a"), OSError("b")
    first.__context__, second.__context__ = second, first
    error = transport_error(connect_error("x", first), URL, "list routes")
    assert "cannot connect" in error.message
