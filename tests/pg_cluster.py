"""A throwaway PostgreSQL cluster for the tests: ``initdb`` in a temp folder, a free loopback
port, the unix socket in that folder, password authentication, stopped at the end.

Found as Debian installs it (``/usr/lib/postgresql/<version>/bin``) or on ``PATH``. As root
the server runs as the ``postgres`` system user (PostgreSQL refuses to run as root). Without
PostgreSQL the tests are skipped with a visible reason, unless ``ROUTES_REQUIRE_POSTGRES=1``
asks for a failure instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

REQUIRE_ENV = "ROUTES_REQUIRE_POSTGRES"
ADMIN = "routes_admin"


def find_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: the newest Debian one, else PATH's."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when ``ROUTES_REQUIRE_POSTGRES=1``."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} and {REQUIRE_ENV}=1 is set")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster; ``database()`` makes a fresh, empty database and returns its URL."""

    bindir: Path
    folder: Path
    port: int
    password: str = field(repr=False)
    run_as: str | None = None
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    def url(self, dbname: str = "postgres", *, with_password: bool = True) -> str:
        secret = f":{quote(self.password, safe='')}" if with_password else ""
        return f"postgresql://{ADMIN}{secret}@127.0.0.1:{self.port}/{dbname}"

    def database(self) -> str:
        name = f"t{os.getpid()}_{next(self._serial)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            # fsync off: the tests kill replicas, never the database, and disks here are shared.
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
            "-c max_connections=200",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr}\n{tail}")


def start_cluster() -> Cluster:
    """initdb and start a cluster, or skip (fail with ROUTES_REQUIRE_POSTGRES=1) visibly."""
    bindir = find_bindir()
    if bindir is None:
        unavailable("PostgreSQL is not installed (initdb not found; apt-get install -y postgresql)")
    assert bindir is not None
    run_as = None
    folder = Path(tempfile.mkdtemp(prefix="routes-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            unavailable("running as root and there is no `postgres` user to run PostgreSQL as")
        run_as = "postgres"
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    password = secrets.token_urlsafe(16)
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n")
    if run_as:
        os.chown(pwfile, pwd.getpwnam(run_as).pw_uid, -1)
    cluster = Cluster(bindir, folder, free_port(), password, run_as)
    cluster._run(
        "initdb",
        "-D",
        str(folder / "data"),
        "-U",
        ADMIN,
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    )
    pwfile.unlink()
    cluster.start()
    return cluster


STORE_KINDS = ["sqlite", "postgres"]


def store_location(request: pytest.FixtureRequest, folder: Path) -> str:
    """For a fixture parametrized over ``STORE_KINDS``: a SQLite file in ``folder``, or the
    URL of a fresh database in the session's cluster."""
    if request.param == "postgres":
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        return cluster.database()
    return str(folder / "state.db")
