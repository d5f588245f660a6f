"""A real Caddy, real upstreams and real certificates for the Caddy backend tests.

Everything binds 127.0.0.1 only. Without a ``caddy`` binary the tests are skipped with a
visible reason, unless ``ROUTES_REQUIRE_CADDY=1`` asks for a failure instead.
"""

from __future__ import annotations

import datetime
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def caddy_binary() -> str:
    """The caddy executable, or skip (fail with ROUTES_REQUIRE_CADDY=1) when there is none."""
    found = shutil.which("caddy")
    if found is None:
        reason = "caddy is not installed (needed for the Caddy backend tests)"
        if os.environ.get("ROUTES_REQUIRE_CADDY") == "1":
            pytest.fail(reason + " and ROUTES_REQUIRE_CADDY=1 is set")
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CaddyProcess:
    """``caddy run`` with its admin API, storage and XDG folders in a temp folder."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.admin_port = free_port()
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.process: subprocess.Popen[bytes] | None = None

    def base_config(self) -> dict[str, Any]:
        return {
            "admin": {"listen": f"127.0.0.1:{self.admin_port}"},
            "storage": {"module": "file_system", "root": str(self.workdir / "storage")},
        }

    def start(self, binary: str) -> None:
        config = self.workdir / "caddy.json"
        config.write_text(json.dumps(self.base_config()), encoding="utf-8")
        env = {
            **os.environ,
            "XDG_DATA_HOME": str(self.workdir / "data"),
            "XDG_CONFIG_HOME": str(self.workdir / "config"),
            "HOME": str(self.workdir),
        }
        log = (self.workdir / "caddy.log").open("wb")
        self.process = subprocess.Popen(
            [binary, "run", "--config", str(config)], stdout=log, stderr=log, env=env
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.admin_url + "/config/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("caddy did not start: " + (self.workdir / "caddy.log").read_text())

    def reset(self) -> None:
        """Back to the bootstrap config: no apps, so the backend starts from nothing."""
        response = httpx.post(self.admin_url + "/load", json=self.base_config(), timeout=10)
        response.raise_for_status()

    def config(self, path: str = "/config/") -> Any:
        return httpx.get(self.admin_url + path, timeout=10).json()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaddyProcess]:
    """One Caddy per test module; tests reset its config."""
    binary = caddy_binary()
    process = CaddyProcess(tmp_path_factory.mktemp("caddy"))
    process.start(binary)
    try:
        yield process
    finally:
        process.stop()


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = f"{self.server.upstream_name} {self.path}\n".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


@dataclass
class Upstream:
    name: str
    server: http.server.ThreadingHTTPServer

    @property
    def dial(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    """Three echo upstreams on loopback that answer ``<name> <path>``."""
    running: dict[str, Upstream] = {}
    for name in ("frontend", "shopping-cart", "carts-v2"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
        server.upstream_name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running[name] = Upstream(name, server)
    yield running
    for upstream in running.values():
        upstream.server.shutdown()
        upstream.server.server_close()


@dataclass(frozen=True)
class Pki:
    """PEM files: a server CA, a server certificate, a client CA and client certificates."""

    server_ca: Path
    server_pair: Path  # certificate and key in one PEM
    client_ca: Path
    client_pair: tuple[Path, Path]  # signed by client_ca
    stranger_pair: tuple[Path, Path]  # signed by a CA nobody trusts


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: str | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(server)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_pki(folder: Path, host: str) -> Pki:
    """Certificates for ``host`` and for clients, written as PEM files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def write(name: str, data: bytes) -> Path:
        files[name] = folder / name
        files[name].write_bytes(data)
        return files[name]

    server_ca_key, client_ca_key, stranger_ca_key = _key(), _key(), _key()
    server_ca = _cert("Test Server CA", server_ca_key, None, ca=True)
    client_ca = _cert("Test Client CA", client_ca_key, None, ca=True)
    server_key, client_key, stranger_key = _key(), _key(), _key()
    server_cert = _cert(host, server_key, ("Test Server CA", server_ca_key), server=host)
    client = _cert("client.acme.org", client_key, ("Test Client CA", client_ca_key))
    stranger = _cert("client.acme.org", stranger_key, ("Stranger CA", stranger_ca_key))
    return Pki(
        server_ca=write("server-ca.pem", _pem(server_ca)),
        server_pair=write("server.pem", _pem(server_cert) + _key_pem(server_key)),
        client_ca=write("client-ca.pem", _pem(client_ca)),
        client_pair=(write("client.crt", _pem(client)), write("client.key", _key_pem(client_key))),
        stranger_pair=(
            write("stranger.crt", _pem(stranger)),
            write("stranger.key", _key_pem(stranger_key)),
        ),
    )
