"""Concurrency: applies racing on the same routes, and many clients writing at once."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.model import RouteSpec
from reconciler.server.faults import FaultPolicy
from reconciler.store import RouteStore
from reconciler.store.postgres import PostgresStore
from tests.http_server import running_server
from tests.pg_cluster import Cluster
from tests.reliability.support import (
    journals,
    record,
    replicas,
    routes_cmd,
    routes_env,
    run_routes,
    serve,
    spec,
    write_repo,
)

TOKEN = "race-token-3e1b"


def fingerprint(body: dict[str, Any]) -> str:
    return RouteSpec.from_dict(body).fingerprint()


def test_two_applies_racing_on_the_same_routes_never_lose_an_update(tmp_path: Path) -> None:
    # Every answer 100 ms late, 4 routes at a time: the two runs' reads and writes interleave.
    slow = FaultPolicy(rate=1.0, kinds=("slow",), slow_seconds=0.1)
    with running_server(tmp_path / "state.db", token=TOKEN, faults=slow) as server:
        conflicts = _race(tmp_path, (server.url, server.url), server.store)
    record(
        "two-applies-racing",
        routes_raced=RACED,
        conflicts_reported=conflicts,
        lost_updates=0,
        data_lost=0,
    )


def test_two_applies_through_two_replicas_never_lose_an_update(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    # Side a applies through one replica, side b through the other, both over one database.
    slow = ("--faults", "1", "--fault-kinds", "slow", "--fault-slow", "0.1", "--no-access-log")
    with replicas(pg_cluster, TOKEN, *slow) as (db, pair):
        store = PostgresStore(db)
        try:
            conflicts = _race(tmp_path, (pair[0][1], pair[1][1]), store)
        finally:
            store.close()
    record(
        "two-replicas-two-applies-racing",
        routes_raced=RACED,
        conflicts_reported=conflicts,
        lost_updates=0,
        data_lost=0,
    )


RACED = 40


def _race(tmp_path: Path, urls: tuple[str, str], store: RouteStore) -> int:
    """Two applies of different descriptors for the same routes at once, side a through
    ``urls[0]`` and side b through ``urls[1]``; checks that no update was lost and returns
    the conflicts reported."""
    names = [f"race-{i:02d}" for i in range(RACED)]
    base = {name: spec(i, "base") for i, name in enumerate(names[:20])}
    sides = {
        "a": {name: spec(i, "side-a") for i, name in enumerate(names)},
        "b": {name: spec(i, "side-b") for i, name in enumerate(names)},
    }
    env = routes_env(TOKEN)
    seed_repo = write_repo(tmp_path / "base", base, urls[0])
    seeded = run_routes(["apply", "--auto-approve", "--parallelism", "20"], seed_repo, env)
    assert seeded.returncode == 0, seeded.stderr
    repos = {
        side: write_repo(tmp_path / side, body, url)
        for (side, body), url in zip(sides.items(), urls, strict=True)
    }
    runs = {
        side: subprocess.Popen(
            routes_cmd("apply", "--auto-approve", "--format", "json", "--parallelism", "4"),
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for side, repo in repos.items()
    }
    reports = {}
    for side, process in runs.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode in (0, 1), err
        reports[side] = {r["route"]: r for r in json.loads(out)["results"]}
    live = {route.name: route.spec.fingerprint() for route in store.list_page(1000)[0]}

    planned = {
        side: {c["route"]: c["live_fingerprint"] for c in journals(repo)[0][0]["routes"]}
        for side, repo in repos.items()
    }
    conflicts = 0
    for name in names:
        wanted = {side: fingerprint(specs[name]) for side, specs in sides.items()}
        assert live[name] in wanted.values(), f"{name} ends in neither side's state"
        winner = "a" if live[name] == wanted["a"] else "b"
        loser = "b" if winner == "a" else "a"
        assert reports[winner][name]["outcome"] in ("applied", "already-applied"), name
        lost = reports[loser][name]
        if lost["outcome"] == "conflict":
            conflicts += 1
            assert "run `routes plan` again" in lost["message"]
        else:
            # The loser's write landed first and the winner planned on top of it knowingly.
            assert lost["outcome"] == "applied", lost
            assert planned[winner][name] == wanted[loser], f"update of {name} lost"
    return conflicts


@dataclass
class _Client:
    """A client editing a shared pool of routes: read, then write conditionally."""

    url: str
    index: int
    statuses: Counter[int] = field(default_factory=Counter)
    # route -> every (version, service) the server acknowledged for it
    acked: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def run(self, deadline: float, pool: list[str]) -> None:
        rng = random.Random(self.index)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            serial = 0
            while time.monotonic() < deadline:
                serial += 1
                name = rng.choice(pool)
                if serial % 10 == 0:
                    self._note(client.get("/v1/routes", params={"pageSize": "7"}))
                    continue
                current = self._note(client.get(f"/v1/routes/{name}"))
                service = f"c{self.index}-{serial}"
                if current.status_code == 404:
                    condition = {"If-None-Match": "*"}
                else:
                    condition = {"If-Match": current.headers["ETag"]}
                if current.status_code == 200 and serial % 7 == 0:
                    self._note(client.delete(f"/v1/routes/{name}", headers=condition))
                    continue
                body = {"spec": spec(0, service, host=f"{name}.acme.org")}
                answer = self._note(client.put(f"/v1/routes/{name}", json=body, headers=condition))
                if answer.status_code in (200, 201):
                    version = answer.json()["version"]
                    self.acked.setdefault(name, set()).add((version, f"{service}-0"))

    def _note(self, answer: httpx.Response) -> httpx.Response:
        self.statuses[answer.status_code] += 1
        if answer.status_code >= 400 and answer.status_code not in (404, 412):
            raise AssertionError(f"{answer.status_code}: {answer.text}")
        return answer


def _fifty_clients(urls: list[str], seconds: float) -> dict[str, int]:
    """50 clients spread over the servers ``urls`` (replicas of one store), then the check."""
    pool = [f"hot-{i:02d}" for i in range(25)]
    clients = [_Client(urls[index % len(urls)], index) for index in range(50)]
    deadline = time.monotonic() + seconds
    failures: list[BaseException] = []

    def run(client: _Client) -> None:
        try:
            client.run(deadline, pool)
        except BaseException as exc:  # reported below, with the client's answer
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    assert not failures, failures[:3]
    statuses = sum((c.statuses for c in clients), Counter[int]())
    assert not [s for s in statuses if s >= 500], statuses
    acked: dict[str, set[tuple[str, str]]] = {}
    for client in clients:
        for name, writes in client.acked.items():
            acked.setdefault(name, set()).update(writes)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=urls[0], headers=auth) as api:
        items = api.get("/v1/routes", params={"pageSize": "1000"}).json()["items"]
    for index, item in enumerate(items):
        # Every row is whole, valid and exactly one acknowledged write, whichever replica took
        # it, and every replica answers it alike.
        service = item["spec"]["routes"][0]["route"]["service"]
        assert (item["version"], service) in acked[item["name"]], item
        assert RouteSpec.from_dict(item["spec"]).host == f"{item['name']}.acme.org"
        again = httpx.get(f"{urls[index % len(urls)]}/v1/routes/{item['name']}", headers=auth)
        assert again.json() == item
    return {"requests": sum(statuses.values()), "writes": sum(map(len, acked.values()))}


def _check_database(db: Path) -> None:
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize(
    "seconds", [3.0, pytest.param(10.0, marks=pytest.mark.slow, id="10s-soak")]
)
def test_fifty_clients_writing_at_once_get_no_server_error_and_no_corrupt_row(
    tmp_path: Path, seconds: float
) -> None:
    # The server in its own process, as deployed: the clients' threads do not slow it.
    with serve(tmp_path / "state.db", TOKEN, "--no-access-log") as (_, url):
        counted = _fifty_clients([url], seconds)
    _check_database(tmp_path / "state.db")
    record(
        f"fifty-clients-{seconds:g}s",
        requests=counted["requests"],
        acknowledged_writes=counted["writes"],
        server_errors=0,
        data_lost=0,
    )


@pytest.mark.parametrize(
    "seconds", [3.0, pytest.param(10.0, marks=pytest.mark.slow, id="10s-soak")]
)
def test_fifty_clients_across_two_replicas_on_postgres(pg_cluster: Cluster, seconds: float) -> None:
    # Even clients on one replica, odd on the other: each If-Match is decided in SQL, so a
    # write one replica acknowledged is never overwritten by the other's stale read.
    with replicas(pg_cluster, TOKEN, "--no-access-log") as (_, pair):
        counted = _fifty_clients([url for _, url in pair], seconds)
    record(
        f"two-replicas-fifty-clients-{seconds:g}s",
        requests=counted["requests"],
        acknowledged_writes=counted["writes"],
        server_errors=0,
        data_lost=0,
    )
