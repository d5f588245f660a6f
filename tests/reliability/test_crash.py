"""Crashes: ``routes apply`` and ``routes serve`` killed with SIGKILL in the middle of writes.

Real processes, real SIGKILL (no handler runs, nothing is flushed on the way out).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reconciler.server.faults import FaultPolicy
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
    wait_for,
    write_repo,
)

TOKEN = "crash-token-91ad"


def test_an_apply_killed_half_way_finishes_on_the_rerun_and_the_journal_shows_both(
    tmp_path: Path,
) -> None:
    # Every answer 50 ms late, so the apply is still writing when it is killed.
    slow = FaultPolicy(rate=1.0, kinds=("slow",), slow_seconds=0.05)
    with running_server(tmp_path / "state.db", token=TOKEN, faults=slow) as server:
        assert server.faults is not None
        desired = {f"k{i:03d}": spec(i) for i in range(120)}
        repo = write_repo(tmp_path / "repo", desired, server.url)
        env = routes_env(TOKEN)
        planned = run_routes(["plan", "--out", "plan.json"], repo, env)
        assert planned.returncode == 0, planned.stderr

        apply = subprocess.Popen(
            routes_cmd("apply", "plan.json"),
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: sum(server.faults.writes.values()) >= 40, 60, "40 writes")  # type: ignore[union-attr]
        finally:
            apply.send_signal(signal.SIGKILL)
            apply.wait(timeout=10)
        written_before = dict(server.faults.writes)
        assert 40 <= len(written_before) < 120, "killed half-way"

        rerun = run_routes(["apply", "plan.json", "--format", "json"], repo, env)

        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        outcomes = {r["route"]: r["outcome"] for r in json.loads(rerun.stdout)["results"]}
        assert {n for n, o in outcomes.items() if o == "already-applied"} >= set(written_before)
        live, _ = server.store.list_page(1000, None)
        assert {route.name for route in live} == set(desired)
        assert server.faults.writes == {name: 1 for name in desired}, "nothing written twice"
        first, second = journals(repo)
        assert first[0]["event"] == "run-start" and second[0]["event"] == "run-start"
        assert "run-end" not in {e["event"] for e in first}, "the killed run never ended"
        assert second[-1]["event"] == "run-end"
        assert second[-1]["report"]["failed"] == 0
        journaled = {e["route"] for e in first if e["event"] == "result"}
        assert journaled <= set(written_before)
        record(
            "sigkill-apply-half-way",
            crashes_survived=1,
            requests=server.faults.requests,
            routes_applied=len(desired),
            duplicate_writes=sum(server.faults.writes.values()) - len(desired),
            data_lost=0,
        )


@dataclass
class _Writer:
    """One client creating and then replacing its own routes until its server dies; given a
    ``standby``, it then goes on there with fresh routes, as a client behind a balancer does."""

    url: str
    prefix: str
    standby: str | None = None
    acked: dict[str, str] = field(default_factory=dict)  # route -> service acknowledged
    in_flight: dict[str, str] = field(default_factory=dict)  # route -> service last sent
    requests: int = 0
    failed_over: bool = False

    def run(self, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        serial = 0
        for url in (self.url, self.standby):
            if url is None:
                return
            self.failed_over = url == self.standby
            with httpx.Client(base_url=url, headers=headers, timeout=5) as client:
                while not stop.is_set():
                    name = f"{self.prefix}-{serial}"
                    serial += 1  # a route whose write may have been cut off is left as it is
                    try:
                        version = self._put(client, name, "first", {"If-None-Match": "*"})
                        self._put(client, name, "second", {"If-Match": f'"{version}"'})
                    except httpx.HTTPError:
                        break  # the server is gone

    def _put(self, client: httpx.Client, name: str, service: str, headers: dict[str, str]) -> str:
        self.in_flight[name] = service
        self.requests += 1
        body = {"spec": spec(0, service, host=f"{name}.acme.org")}
        answer = client.put(f"/v1/routes/{name}", json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.text
        self.acked[name] = service
        return str(answer.json()["version"])


def _service_of(route: dict[str, Any]) -> str:
    return str(route["spec"]["routes"][0]["route"]["service"]).rsplit("-", 1)[0]


def test_every_acknowledged_write_survives_a_sigkilled_server(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with serve(db, TOKEN, "--no-access-log") as (process, url):
        writers = [_Writer(url, f"w{index}") for index in range(8)]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(len(w.acked) for w in writers) >= 300, 60, "300 acknowledged")
        process.send_signal(signal.SIGKILL)  # in the middle of the writers' stream
        process.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    with serve(db, TOKEN, "--no-access-log") as (_, url):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        live: dict[str, dict[str, Any]] = {}
        token = None
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            while True:
                params = {"pageSize": "1000", **({"pageToken": token} if token else {})}
                page = client.get("/v1/routes", params=params).json()
                live.update({item["name"]: item for item in page["items"]})
                token = page["nextPageToken"]
                if not token:
                    break
    acked = {name: service for w in writers for name, service in w.acked.items()}
    in_flight = {name: service for w in writers for name, service in w.in_flight.items()}
    lost = [name for name in acked if name not in live]
    assert not lost, f"acknowledged writes lost: {lost[:5]}"
    for name, service in acked.items():
        # Exactly what was acknowledged, or a later write whose answer the kill swallowed.
        assert _service_of(live[name]) in {service, in_flight[name]}, name
    assert set(live) <= set(in_flight), "nothing appears that nobody wrote"
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    record(
        "sigkill-server-during-writes",
        crashes_survived=1,
        requests=sum(w.requests for w in writers),
        acknowledged_writes=len(acked),
        data_lost=len(lost),
    )


def test_a_sigkilled_replica_loses_nothing_and_its_clients_go_on_at_the_other(
    pg_cluster: Cluster,
) -> None:
    with replicas(pg_cluster, TOKEN, "--no-access-log") as (db, pair):
        (victim, victim_url), (_, survivor_url) = pair
        writers = [
            _Writer(victim_url, f"k{index}", standby=survivor_url)
            if index % 2
            else _Writer(survivor_url, f"s{index}")
            for index in range(8)
        ]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(len(w.acked) for w in writers) >= 200, 60, "200 acknowledged")
        victim.send_signal(signal.SIGKILL)  # in the middle of its writers' stream
        victim.wait(timeout=10)
        at_kill = sum(len(w.acked) for w in writers)
        wait_for(lambda: sum(len(w.acked) for w in writers) >= at_kill + 100, 60, "100 more")
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        store = PostgresStore(db)
        live = {route.name: route.to_live() for route in store.list_routes()}
        store.close()
    assert all(w.failed_over for w in writers[1::2]), "the victim's clients moved over"
    acked = {name: service for w in writers for name, service in w.acked.items()}
    in_flight = {name: service for w in writers for name, service in w.in_flight.items()}
    lost = [name for name in acked if name not in live]
    assert not lost, f"acknowledged writes lost: {lost[:5]}"
    for name, service in acked.items():
        found = live[name].spec.paths[0].service.rsplit("-", 1)[0]
        assert found in {service, in_flight[name]}, name
    assert set(live) <= set(in_flight), "nothing appears that nobody wrote"
    record(
        "sigkill-replica-during-writes",
        crashes_survived=1,
        requests=sum(w.requests for w in writers),
        acknowledged_writes=len(acked),
        data_lost=len(lost),
    )
