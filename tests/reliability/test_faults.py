"""``routes apply`` through a control plane that fails on purpose (``routes serve --faults``).

The CLI runs as a real subprocess against a real server on loopback whose fault injector
answers 500 / 502 / 503 / 429, drops connections (after doing the write) and answers late.
The server counts the writes each route gets, so "no duplicate writes" is measured there.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.model import RouteSpec
from reconciler.server.faults import FAULT_KINDS, FaultPolicy
from reconciler.store.postgres import PostgresStore
from tests.http_server import RunningServer, running_server, without_batch_endpoint
from tests.pg_cluster import Cluster
from tests.reliability.balancer import balanced
from tests.reliability.support import (
    journals,
    record,
    replicas,
    routes_env,
    run_routes,
    spec,
    write_repo,
)

TOKEN = "reliability-token-5f2c"
# Fault decisions hang on (seed, method, path, how many times asked), so every route meets
# the same faults on every run. An attempt makes one or two requests, so at 20 % per request
# it fails 17-31 % of the time and all 5 attempts fail ~0.01-0.3 % of the time: with 300
# routes some seeds leave one route failed (the re-run then converges, as the next test
# shows). This seed is one where the 5 attempts suffice for every route.
SEED = 20240606
LOST_BATCH_SEED = 20240621  # its second POST to the batch endpoint answers 500


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    policy = FaultPolicy(seed=SEED, rate=0.0, slow_seconds=0.2)
    with running_server(tmp_path / "state.db", token=TOKEN, faults=policy) as running:
        yield running


@pytest.fixture
def per_route_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server without the batch endpoint: the apply writes one request per route, so the
    faults of every kind land on hundreds of writes."""
    policy = FaultPolicy(seed=SEED, rate=0.0, slow_seconds=0.2)
    with running_server(
        tmp_path / "state.db", token=TOKEN, faults=policy, wrap=without_batch_endpoint
    ) as running:
        yield running


def set_faults(server: RunningServer, **policy: Any) -> None:
    assert server.faults is not None
    server.faults.policy = FaultPolicy(seed=SEED, slow_seconds=0.2, **policy)


def stats(server: RunningServer) -> dict[str, Any]:
    answer = httpx.get(
        server.url + "/v1/_stats", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def live_specs(server: RunningServer) -> dict[str, dict[str, Any]]:
    """Live routes read straight from the store (no faults on the way)."""
    routes, _ = server.store.list_page(1000, None)
    return {route.name: route.spec.to_dict() for route in routes}


def canonical(specs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: RouteSpec.from_dict(body).to_dict() for name, body in specs.items()}


def test_300_routes_through_20_percent_faults_converge_in_one_run(
    per_route_server: RunningServer, tmp_path: Path
) -> None:
    server = per_route_server
    desired = {f"r{i:03d}": spec(i) for i in range(300)}
    repo = write_repo(tmp_path / "repo", desired, server.url)
    set_faults(server, rate=0.2)

    done = run_routes(["apply", "--auto-approve", "--format", "json"], repo, routes_env(TOKEN))

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[:300] + done.stderr[-1000:]
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert (summary["failed"], summary["not-attempted"]) == (0, 0)
    assert summary["applied"] + summary["already-applied"] == 300
    # A write whose answer was lost (500, dropped connection) reads back as already applied.
    assert summary["already-applied"] > 0
    counted = stats(server)
    assert live_specs(server) == canonical(desired)
    # Every injected kind happened, and none of them made the server write a route twice.
    assert set(counted["faults"]) == set(FAULT_KINDS)
    assert counted["writes"] == {name: 1 for name in desired}
    retries = [e for run in journals(repo) for e in run if e["event"] == "retry"]
    assert retries, "the journal shows the retries"
    set_faults(server, rate=0.0)
    again = run_routes(["plan", "--detailed-exitcode"], repo, routes_env(TOKEN))
    assert again.returncode == 0, again.stdout
    assert "No changes." in again.stdout
    _record_converged("apply-300-routes-20pct-faults", counted, 300)


def _record_converged(name: str, counted: dict[str, Any], routes: int) -> None:
    """The figures of a run that survived every fault it met and lost nothing."""
    record(
        name,
        faults_injected=counted["faultsTotal"],
        faults_survived=counted["faultsTotal"],
        requests=counted["requests"],
        routes_applied=routes,
        duplicate_writes=counted["writesTotal"] - routes,
        data_lost=0,
    )


def test_300_routes_in_batches_through_faults_converge_and_nothing_is_written_twice(
    server: RunningServer, tmp_path: Path
) -> None:
    desired = {f"r{i:03d}": spec(i) for i in range(300)}
    repo = write_repo(tmp_path / "repo", desired, server.url)
    # The creates go in six batch requests (after one empty batch asking about the
    # endpoint); under this seed the first has its answer lost after the commit (a 500).
    assert server.faults is not None
    server.faults.policy = FaultPolicy(seed=LOST_BATCH_SEED, slow_seconds=0.2, rate=0.2)

    done = run_routes(["apply", "--auto-approve", "--format", "json"], repo, routes_env(TOKEN))

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    summary = json.loads(done.stdout)["summary"]
    assert (summary["failed"], summary["not-attempted"]) == (0, 0)
    # The routes of a batch whose answer was lost read back as already applied.
    assert summary["already-applied"] >= 50
    assert summary["applied"] + summary["already-applied"] == 300
    counted = stats(server)
    assert counted["faults"].get("500", 0) + counted["faults"].get("drop", 0) >= 1
    assert live_specs(server) == canonical(desired)
    assert counted["writes"] == {name: 1 for name in desired}
    _record_converged("apply-300-routes-in-batches-20pct-faults", counted, 300)


def test_a_route_that_always_fails_gets_an_honest_report_and_a_clean_rerun(
    server: RunningServer, tmp_path: Path
) -> None:
    old = {f"old-{i}": spec(100 + i, "old") for i in range(5)}
    repo = write_repo(tmp_path / "repo", old, server.url, prune=True)
    first = run_routes(["apply", "--auto-approve"], repo, routes_env(TOKEN))
    assert first.returncode == 0, first.stderr
    new = {f"new-{i:02d}": spec(i, "new") for i in range(29)} | {"doomed": spec(99, "doomed")}
    write_repo(repo, new, server.url, prune=True)
    set_faults(server, rate=0.2, failing_routes=frozenset({"doomed"}))

    text = run_routes(["apply", "--auto-approve"], repo, routes_env(TOKEN))

    assert text.returncode == 1
    assert 'route "doomed" (create): failed after 5 attempts' in text.stdout
    assert "injected fault: this route always fails" in text.stdout
    # Deletes wait until every replacement is in place (make before break).
    assert 'route "old-0" (delete): not attempted' in text.stdout
    totals = re.search(r"Apply failed: (\d+) applied, (\d+) already applied, (.*)\.", text.stdout)
    assert totals is not None, text.stdout
    assert int(totals[1]) + int(totals[2]) == 29
    assert totals[3] == "1 failed, 5 not attempted"

    as_json = run_routes(["apply", "--auto-approve", "--format", "json"], repo, routes_env(TOKEN))

    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["summary"] == {
        "applied": 0,
        "already-applied": 0,
        "failed": 1,
        "not-attempted": 5,
    }
    outcomes = {r["route"]: (r["action"], r["outcome"]) for r in report["results"]}
    assert outcomes["doomed"] == ("create", "failed")
    assert outcomes["old-3"] == ("delete", "not-attempted")
    assert Path(report["journal"]).is_file()
    faulted = stats(server)

    set_faults(server, rate=0.0)
    last = run_routes(["apply", "--auto-approve", "--format", "json"], repo, routes_env(TOKEN))

    assert last.returncode == 0, last.stdout + last.stderr
    assert json.loads(last.stdout)["summary"]["applied"] == 6
    assert live_specs(server) == canonical(new)
    counted = stats(server)
    # old-*: created once and deleted once; every other route written exactly once.
    assert counted["writes"] == {**{name: 1 for name in new}, **{name: 2 for name in old}}
    assert len(journals(repo)) == 4
    record(
        "always-failing-route-then-rerun",
        faults_injected=faulted["faultsTotal"],
        # The always-failing route's faults were reported, not survived: counted apart.
        faults_survived=faulted["faultsTotal"] - faulted["faults"]["always"],
        faults_reported_as_failed=faulted["faults"]["always"],
        requests=counted["requests"],
        routes_applied=len(new) + len(old),
        duplicate_writes=counted["writesTotal"] - len(new) - 2 * len(old),
        data_lost=0,
    )


def test_300_routes_through_two_faulty_replicas_are_each_written_once(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    # Two replicas over one database, each failing 20 % of its requests, behind a balancer
    # that hands each new connection to the next one: a dropped connection moves the client.
    # Seeds of their own: with one seed, a request retried at the other replica would meet
    # the very fault it met at the first.
    faults = ("--faults", "0.2", "--fault-slow", "0.2")
    desired = {f"r{i:03d}": spec(i) for i in range(300)}
    with (
        replicas(pg_cluster, TOKEN, *faults, "--no-access-log", seeded=True) as (db, pair),
        balanced([url for _, url in pair]) as (url, connections),
    ):
        repo = write_repo(tmp_path / "repo", desired, url)
        runs = []
        # Which replica meets which request depends on timing, so unlike the one-server test
        # no seed can promise that 5 attempts suffice for every route: a route that exhausts
        # them is reported failed, and the re-run finishes the job without writing twice.
        while len(runs) < 3 and (not runs or runs[-1].returncode != 0):
            runs.append(
                run_routes(["apply", "--auto-approve", "--format", "json"], repo, routes_env(TOKEN))
            )
        counted = [stats_at(replica_url) for _, replica_url in pair]
        store = PostgresStore(db)
        live = {route.name: route.spec.to_dict() for route in store.list_routes()}
        store.close()
    last = runs[-1]
    assert last.returncode == 0, last.stdout[-3000:] + last.stderr[-1000:]
    for run in runs[:-1]:
        report = json.loads(run.stdout)
        assert report["summary"]["failed"] > 0
        # Only routes out of attempts at an injected fault: never a conflict or a store error.
        for result in report["results"]:
            assert result["outcome"] in ("applied", "already-applied", "failed"), result
            if result["outcome"] == "failed":
                assert "injected fault" in result["message"], result
    assert live == canonical(desired)
    assert all(connections[url] > 0 for _, url in pair), connections
    writes: Counter[str] = Counter()
    for replica in counted:
        writes.update(replica["writes"])
        assert replica["requests"] > 0 and replica["faultsTotal"] > 0
    assert writes == {name: 1 for name in desired}, "every route written exactly once"
    injected = sum(replica["faultsTotal"] for replica in counted)
    record(
        "two-replicas-300-routes-20pct-faults",
        faults_injected=injected,
        # Survived within one apply, or (a route out of attempts) with one re-run.
        **{"faults_survived" if len(runs) == 1 else "faults_survived_with_a_rerun": injected},
        requests=sum(replica["requests"] for replica in counted),
        routes_applied=300,
        applies_needed=len(runs),
        duplicate_writes=sum(writes.values()) - 300,
        data_lost=0,
    )


def stats_at(url: str) -> dict[str, Any]:
    """``GET /v1/_stats`` of one replica, straight (not through the balancer)."""
    answer = httpx.get(url + "/v1/_stats", headers={"Authorization": f"Bearer {TOKEN}"})
    answer.raise_for_status()
    counted: dict[str, Any] = answer.json()
    return counted
