"""``routes serve``: the reference control plane over a SQLite file or a PostgreSQL database.

``serve_options`` checks the flags together (usage errors before anything binds) and
``run`` serves until SIGINT / SIGTERM, letting requests in flight finish; ``serve`` is
the two, from the command's flags.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import ssl
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.commands.common import Echo
from reconciler.errors import EXIT_OK, ConfigError, UsageError
from reconciler.regular_files import read_regular
from reconciler.server.options import TOKEN_ENV, FaultPolicy, parse_kinds

GRACE_SECONDS = 30


@dataclass(frozen=True)
class ServeOptions:
    db: str  # a SQLite file, or a postgresql:// URL
    host: str = "127.0.0.1"
    port: int = 8900
    token: str | None = field(default=None, repr=False)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    hostnames: str | None = None
    rate_limit: float | None = None
    access_log: bool = True
    faults: FaultPolicy | None = None  # a testing aid: --faults RATE


def serve(
    *,
    db: str,
    host: str,
    port: int,
    token_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    hostnames: str | None,
    rate_limit: float | None,
    access_log: bool,
    faults: float | None,
    fault_seed: int,
    fault_kinds: str,
    fault_slow: float,
    fault_routes: Sequence[str],
    echo: Echo,
) -> int:
    """Check the flags, then serve until SIGINT / SIGTERM."""
    options = serve_options(
        db=db,
        host=host,
        port=port,
        token_file=token_file,
        tls_cert=tls_cert,
        tls_key=tls_key,
        hostnames=hostnames,
        rate_limit=rate_limit,
        access_log=access_log,
        faults=fault_policy(faults, fault_seed, fault_kinds, fault_slow, fault_routes),
    )
    for warning in (token_file_warning(token_file), db_password_warning(db)):
        if warning:
            echo(warning, err=True)
    return run(options, echo=echo)


def token_file_warning(token_file: str | None) -> str | None:
    """A warning when others on this machine can read the token file, else None."""
    if token_file is None:
        return None
    mode = os.stat(token_file).st_mode
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    return (
        f"routes serve: warning: the token file {token_file} is readable by other users "
        f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {token_file}`"
    )


def db_password_warning(db: str) -> str | None:
    """A warning when the ``--db`` URL carries a password (any user can list commands)."""
    from reconciler.store import is_postgres_url

    if not is_postgres_url(db):
        return None
    netloc = urlsplit(db).netloc
    if ":" not in netloc.rpartition("@")[0]:
        return None
    return (
        "routes serve: warning: the --db URL holds a password, which other users of this "
        "machine can see in the process list; set PGPASSWORD or use ~/.pgpass instead"
    )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(token_file: str | None, environ: Mapping[str, str]) -> str | None:
    """The server token from ``--token-file`` (first) or ``ROUTES_SERVER_TOKEN``."""
    if token_file is None:
        return environ.get(TOKEN_ENV) or None
    try:
        token = read_regular(token_file).decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the token file {token_file}: {getattr(exc, 'strerror', None) or exc}",
            hint="pass a readable UTF-8 file holding the token to --token-file",
        ) from exc
    if not token:
        raise ConfigError(
            f"the token file {token_file} is empty", hint="write the token into it, one line"
        )
    return token


def serve_options(
    *,
    db: str,
    host: str,
    port: int,
    token_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    hostnames: str | None,
    rate_limit: float | None,
    access_log: bool,
    environ: Mapping[str, str] | None = None,
    faults: FaultPolicy | None = None,
) -> ServeOptions:
    """Check the flags together; ``UsageError`` / ``ConfigError`` say what to change."""
    token = read_token(token_file, os.environ if environ is None else environ)
    if not is_loopback(host) and token is None:
        raise UsageError(
            f"refusing to serve on {host} without a token: anyone who reaches it could "
            "change your routes",
            hint=f"pass --token-file FILE or set {TOKEN_ENV}, or keep --host 127.0.0.1",
        )
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together", hint="pass both, or neither")
    if tls_cert is not None and tls_key is not None:
        _check_tls(tls_cert, tls_key)
    if rate_limit is not None and rate_limit <= 0:
        raise UsageError(f"--rate-limit must be positive (got {rate_limit:g})")
    return ServeOptions(
        db=db,
        host=host,
        port=port,
        token=token,
        tls_cert=Path(tls_cert) if tls_cert else None,
        tls_key=Path(tls_key) if tls_key else None,
        hostnames=hostnames,
        rate_limit=rate_limit,
        access_log=access_log,
        faults=faults,
    )


def fault_policy(
    rate: float | None, seed: int, kinds: str, slow: float, routes: Sequence[str]
) -> FaultPolicy | None:
    """The ``--faults`` flags as a policy; None (no injection, no stats) without them."""
    if rate is None and not routes:
        return None
    try:
        return FaultPolicy(
            seed=seed,
            rate=rate or 0.0,
            kinds=parse_kinds(kinds),
            slow_seconds=slow,
            failing_routes=frozenset(routes),
        )
    except ValueError as exc:
        raise UsageError(str(exc), hint="see `routes serve --help`") from exc


def _check_tls(cert: str, key: str) -> None:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load the TLS certificate {cert} with key {key}: "
            f"{getattr(exc, 'strerror', None) or exc}",
            hint="pass a PEM certificate chain to --tls-cert and its private key to --tls-key",
        ) from exc


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, so a busy port is a clear error before the server starts."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        # proto must say TCP: asyncio turns Nagle off only then (else 40 ms stalls).
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)  # connections from now on queue until the server accepts them
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port, or stop the process using it",
        ) from exc
    return sock


def run(options: ServeOptions, *, echo: Echo) -> int:
    """Serve until SIGINT / SIGTERM; requests in flight finish first."""
    import uvicorn

    from reconciler.server.app import create_app
    from reconciler.server.faults import FaultInjector
    from reconciler.store import open_store

    store = open_store(options.db)
    if options.hostnames is not None:
        try:
            store.set_hostname_mode(options.hostnames)
        except BaseException:
            store.close()
            raise
    app: Any = create_app(store, options.token, options.rate_limit, access_log=options.access_log)
    if options.faults is not None:
        app = FaultInjector(app, options.faults, options.token)
    try:
        sock = bind(options.host, options.port)
    except BaseException:
        store.close()
        raise
    _log_to_stderr()
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # ours leaves out query strings and headers
        lifespan="off",
        ssl_certfile=str(options.tls_cert) if options.tls_cert else None,
        ssl_keyfile=str(options.tls_key) if options.tls_key else None,
        timeout_graceful_shutdown=GRACE_SECONDS,
        server_header=False,
    )
    port = sock.getsockname()[1]
    auth = "bearer token required" if options.token else "no token"
    echo(
        f"routes serve: listening on {_url(options, port)} (store {store.location}; {auth})",
        err=True,
    )
    if options.faults is not None:
        echo(
            f"routes serve: INJECTING FAULTS into {options.faults.rate:.0%} of requests "
            f"(seed {options.faults.seed}; {', '.join(options.faults.kinds)}); a testing aid",
            err=True,
        )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        store.close()
    return EXIT_OK


def _url(options: ServeOptions, port: int) -> str:
    scheme = "https" if options.tls_cert else "http"
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"{scheme}://{host}:{port}"


def _log_to_stderr() -> None:
    logger = logging.getLogger("reconciler.server")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
