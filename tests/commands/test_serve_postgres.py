"""``routes serve --db postgresql://…`` as a user runs it: a real child process over a
database of the throwaway cluster; what it prints, and that it never prints the password."""

from __future__ import annotations

import subprocess
import sys

import httpx
import psycopg

from tests.backends.contract import simple_spec
from tests.http_server import running_server
from tests.pg_cluster import Cluster
from tests.reliability.support import routes_env, serve

TOKEN = "pg-serve-token-77"


def test_a_replica_over_postgresql_serves_and_its_log_never_shows_the_password(
    pg_cluster: Cluster, pg_url: str
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serve(pg_url, TOKEN) as (process, url):
        body = {"spec": simple_spec().to_dict()}
        created = httpx.put(f"{url}/v1/routes/shop", json=body, headers=headers)
        assert created.status_code == 201, created.text
        process.terminate()
        process.wait(timeout=30)
        assert process.stderr is not None
        log = process.stderr.read()
    assert "PUT /v1/routes/shop" in log  # the access log is on, and clean
    assert pg_cluster.password not in log
    with serve(pg_url, TOKEN) as (_, url):  # a restart finds the route where it was
        again = httpx.get(f"{url}/v1/routes/shop", headers=headers)
    assert again.status_code == 200 and again.json()["version"] == created.json()["version"]


def test_the_startup_lines_name_the_database_without_the_password(
    pg_cluster: Cluster, pg_url: str
) -> None:
    started = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--db", pg_url, "--port", "0"],
        env=routes_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert started.stderr is not None
    lines = [started.stderr.readline(), started.stderr.readline()]
    started.terminate()
    started.wait(timeout=30)
    dbname = pg_url.rsplit("/", 1)[1]
    assert "the --db URL holds a password" in lines[0]
    assert "PGPASSWORD" in lines[0]
    assert f"(store postgresql://routes_admin@127.0.0.1:{pg_cluster.port}/{dbname}; " in lines[1]
    assert pg_cluster.password not in "".join(lines)


def test_a_database_that_refuses_the_login_is_a_clear_error(
    pg_cluster: Cluster, pg_url: str
) -> None:
    bare = pg_url.replace(f":{pg_cluster.password}@", "@")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "serve", "--db", bare, "--port", "0"],
        env=routes_env(PGPASSWORD="wrong-password-9"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot open the route store postgresql://routes_admin@")
    assert "password authentication failed" in done.stderr
    assert "Traceback" not in done.stderr and "wrong-password-9" not in done.stderr


def test_a_malformed_url_is_a_usage_error_that_does_not_repeat_it() -> None:
    url = "postgresql://routes:hunter2-secret@127.0.0.1:5432/db?nosuchoption=1"
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "serve", "--db", url, "--port", "0"],
        env=routes_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 64
    assert "not a valid PostgreSQL connection URL" in done.stderr
    assert "hunter2-secret" not in done.stderr


def test_a_dropped_database_connection_answers_503_then_the_replica_recovers(
    pg_url: str,
) -> None:
    dbname = pg_url.rsplit("/", 1)[1]
    with running_server(pg_url) as server, httpx.Client(base_url=server.url) as client:
        assert client.put("/v1/routes/shop", json={"spec": simple_spec().to_dict()}).is_success
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
        lost = client.get("/v1/routes/shop")
        assert lost.status_code == 503, lost.text
        assert lost.headers["Retry-After"] == "1"
        assert lost.json()["error"]["code"] == "unavailable"
        assert client.get("/v1/routes/shop").status_code == 200
