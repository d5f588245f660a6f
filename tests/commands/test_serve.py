"""``routes serve`` as a command: option checks (fault flags too), TLS, and graceful shutdown
on SIGTERM.

The SIGTERM test starts ``routes serve`` in a child Python process on a loopback port.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reconciler.backends.http.client import HttpBackend
from reconciler.cli import serve
from reconciler.commands.serve import fault_policy, is_loopback, serve_options
from reconciler.errors import BackendError, ConfigError, UsageError
from reconciler.server.faults import parse_kinds
from tests.backends.contract import simple_spec
from tests.http_server import running_server

TOKEN = "cli-token-0123"
DEFAULTS = {
    "db": "state.db",
    "host": "127.0.0.1",
    "port": 8900,
    "token_file": None,
    "tls_cert": None,
    "tls_key": None,
    "hostnames": None,
    "rate_limit": None,
    "access_log": True,
}


def options(**overrides: object) -> dict[str, object]:
    return {**DEFAULTS, **overrides}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("example.org", False),
        ("192.0.2.7", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_non_loopback_host_without_token_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="without a token") as caught:
        serve_options(**options(host="0.0.0.0"), environ={})  # type: ignore[arg-type]
    assert "--token-file" in (caught.value.hint or "")
    assert caught.value.exit_code == 64


def test_the_click_command_refuses_before_binding() -> None:
    result = CliRunner().invoke(serve, ["--host", "0.0.0.0", "--port", "1"], env={})
    assert isinstance(result.exception, UsageError)


def test_non_loopback_host_with_a_token_is_allowed(tmp_path: Path) -> None:
    chosen = serve_options(  # type: ignore[arg-type]
        **options(host="0.0.0.0"), environ={"ROUTES_SERVER_TOKEN": TOKEN}
    )
    assert chosen.token == TOKEN
    assert TOKEN not in repr(chosen)


def test_token_file_wins_over_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    chosen = serve_options(  # type: ignore[arg-type]
        **options(token_file=str(token_file)), environ={"ROUTES_SERVER_TOKEN": "other"}
    )
    assert chosen.token == TOKEN


@pytest.mark.parametrize("content", ["", "  \n"])
def test_an_empty_token_file_is_a_config_error(tmp_path: Path, content: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(content)
    with pytest.raises(ConfigError, match="empty"):
        serve_options(**options(token_file=str(token_file)), environ={})  # type: ignore[arg-type]


def test_a_missing_token_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the token file"):
        serve_options(  # type: ignore[arg-type]
            **options(token_file=str(tmp_path / "nope")), environ={}
        )


def test_tls_flags_go_together_and_must_load(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="go together"):
        serve_options(**options(tls_cert="c.pem"), environ={})  # type: ignore[arg-type]
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="cannot load the TLS certificate"):
        serve_options(  # type: ignore[arg-type]
            **options(tls_cert=str(bad), tls_key=str(bad)), environ={}
        )


def test_rate_limit_must_be_positive() -> None:
    with pytest.raises(UsageError, match="rate-limit"):
        serve_options(**options(rate_limit=0.0), environ={})  # type: ignore[arg-type]


def test_bad_fault_flags_are_usage_errors() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        parse_kinds("500,teapot")
    with pytest.raises(UsageError, match="teapot"):
        fault_policy(0.1, 0, "teapot", 0.5, ())
    assert fault_policy(None, 0, "500", 0.5, ()) is None, "off unless asked for"
    result = CliRunner().invoke(serve, ["--faults", "1.5"])
    assert result.exit_code == 2 and "1.5" in result.output


# -- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "routes test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_with_the_ca_bundle_and_refused_without(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    chosen = serve_options(  # type: ignore[arg-type]
        **options(tls_cert=str(cert), tls_key=str(key)), environ={}
    )
    assert chosen.tls_cert == cert
    with running_server(
        tmp_path / "tls.db", token=TOKEN, ssl_certfile=str(cert), ssl_keyfile=str(key)
    ) as server:
        assert server.url.startswith("https://")
        trusted = HttpBackend(server.url, token=TOKEN, ca_bundle=str(cert))
        trusted.create_route("shop", simple_spec(), {}, {})
        assert [r.name for r in trusted.list_routes()] == ["shop"]
        trusted.close()
        untrusted = HttpBackend(server.url, token=TOKEN)
        with pytest.raises(BackendError) as caught:
            untrusted.list_routes()
        assert "TLS verification" in caught.value.message
        assert "ROUTES_CA_BUNDLE" in (caught.value.hint or "")
        untrusted.close()


# -- graceful shutdown (child process) ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Stderr:
    """The child's stderr, read line by line on a thread, so a test can wait for a line."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            with self.changed:
                self.lines.append(raw.decode(errors="replace"))
                self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: any(text in line for line in self.lines), timeout)

    def text(self) -> str:
        self.thread.join(timeout=10)
        return "".join(self.lines)


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, _Stderr]]:
    port = _free_port()
    code = "from reconciler.cli import serve; serve()"
    args = [sys.executable, "-c", code, "--db", str(tmp_path / "s.db"), "--port", str(port)]
    env = {**os.environ, "ROUTES_SERVER_TOKEN": TOKEN}
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE)
    stderr = _Stderr(process.stderr)  # type: ignore[arg-type]
    url = f"http://127.0.0.1:{port}"
    if not stderr.wait_for("listening on", timeout=20):
        process.kill()
        pytest.fail(f"routes serve did not start: {stderr.text()!r}")
    yield process, url, stderr
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def _wait_until_refused(url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/healthz", timeout=1)
        except httpx.ConnectError:
            return
        except httpx.RemoteProtocolError:
            # A connection the kernel accepted just before uvicorn closed its listener is
            # closed unanswered (uvicorn shuts idle connections): also a server shutting down.
            return
    pytest.fail("the server kept accepting connections after SIGTERM")


def test_sigterm_lets_the_request_in_flight_finish(
    serve_process: tuple[subprocess.Popen[bytes], str, _Stderr],
) -> None:
    process, url, stderr = serve_process
    started, release = threading.Event(), threading.Event()
    body = httpx.Request("PUT", "/", json={"spec": simple_spec().to_dict()}).read()
    answers: list[httpx.Response] = []

    def slow_body() -> Iterator[bytes]:
        yield body[:10]
        started.set()
        release.wait(timeout=10)
        yield body[10:]

    def put() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        answers.append(httpx.put(url + "/v1/routes/shop", content=slow_body(), headers=headers))

    client = threading.Thread(target=put)
    client.start()
    assert started.wait(timeout=10)
    # The server accepts connections in the order they arrive: once a later connection is
    # answered, the PUT's connection has been accepted and its headers read.
    assert httpx.get(url + "/healthz", timeout=10).status_code == 200
    process.send_signal(signal.SIGTERM)
    _wait_until_refused(url)  # the server has closed its listener: it is shutting down
    assert process.poll() is None, "the server quit with a request in flight"
    release.set()
    client.join(timeout=10)
    assert [a.status_code for a in answers] == [201]
    process.wait(timeout=10)
    log = stderr.text()
    assert "PUT /v1/routes/shop 201" in log
    assert TOKEN not in log
