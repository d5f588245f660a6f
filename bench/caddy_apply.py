"""Applying N routes into a real Caddy, against one ``POST /load`` of the same final config.

python -m bench.caddy_apply [N ...]        # default: 500 2000 5000

The routes are ``bench/gen.py``'s (8 paths, CORS on about half) without what Caddy refuses
(basic auth, subject matchers) or needs certificate files for (TLS). For each N: a fresh
Caddy, the library apply of the N creates (reads, edits, config loads: what ``routes apply``
does after planning), the bytes of Caddy's resulting config, then a fresh Caddy loading that
same config in one ``POST /load``: the floor.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.gen import SERVICES, _descriptor
from bench.measure import Row, growth_exponent
from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.caddy.backend import CaddyBackend
from reconciler.backends.options import CaddyOptions
from reconciler.model import DesiredRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.planner import PlanOptions, make_plan
from tests.caddy_helpers import CaddyProcess, caddy_binary, free_port

# Caddy's config per route before the compact mapping: the same routes, measured with the
# full-spec mapping (one guard per prefix, the whole spec in the marker), commit 4630dfe.
BYTES_BEFORE = 4826


def desired(count: int) -> RouteSet:
    rng = random.Random(0)
    routes = {}
    for index in range(count):
        raw = _descriptor(rng, index, 8)
        raw.pop("tls", None)
        raw.pop("validation", None)
        name = f"route-{index:05d}"
        spec = RouteSpec.from_dict(raw)
        routes[name] = DesiredRoute(name, spec, SourceLocation(f"routes/{name}.yaml"))
    return RouteSet(routes)


def measure(count: int) -> dict[str, Any]:
    """One apply of ``count`` creates and one load of the config it made, fresh Caddys."""
    with tempfile.TemporaryDirectory() as work:
        caddy = CaddyProcess(Path(work) / "apply")
        caddy.workdir.mkdir()
        caddy.start(caddy_binary())
        try:
            options = CaddyOptions(
                listen=(f"127.0.0.1:{free_port()}",),
                upstreams={s: f"127.0.0.1:{9100 + i}" for i, s in enumerate(SERVICES)},
            )
            requests: Counter[str] = Counter()
            client = httpx.Client(
                base_url=caddy.admin_url,
                timeout=300.0,
                event_hooks={"request": [lambda request: requests.update([request.method])]},
            )
            backend = CaddyBackend(caddy.admin_url, options, client=client)
            routes = desired(count)
            plan_options = PlanOptions(owner="bench", backend_url=backend.url, tool_version="0")
            plan = make_plan(routes, backend.list_routes(), plan_options)
            specs = {name: route.spec for name, route in routes.items()}
            requests.clear()
            started = time.perf_counter()
            result = apply_plan(plan, backend, specs, ApplyOptions())
            applied = time.perf_counter() - started
            assert result.ok, result.summary()
            loads = requests["POST"]
            started = time.perf_counter()
            again = make_plan(routes, backend.list_routes(), plan_options)
            replanned = time.perf_counter() - started
            assert not again.has_changes
            config = httpx.get(caddy.admin_url + "/config/", timeout=60).content
            client.close()
        finally:
            caddy.stop()
        floor = CaddyProcess(Path(work) / "floor")
        floor.workdir.mkdir()
        floor.start(caddy_binary())
        try:
            # the same config, admin address and storage swapped for the fresh Caddy's
            loaded = config.replace(
                caddy.admin_url.split("//")[1].encode(), floor.admin_url.split("//")[1].encode()
            )
            loaded = loaded.replace(str(caddy.workdir).encode(), str(floor.workdir).encode())
            started = time.perf_counter()
            response = httpx.post(
                floor.admin_url + "/load",
                content=loaded,
                headers={"Content-Type": "application/json"},
                timeout=300,
            )
            one_load = time.perf_counter() - started
            response.raise_for_status()
        finally:
            floor.stop()
    return {
        "apply": applied,
        "load": one_load,
        "loads": loads,
        "replan": replanned,
        "bytes": len(config),
    }


def measured(count: int, runs: int) -> dict[str, Any]:
    """``measure`` run ``runs`` times (fresh Caddys each): the medians of the timings."""
    all_runs = [measure(count) for _ in range(runs)]
    return {key: statistics.median(m[key] for m in all_runs) for key in all_runs[0]}


def caddy_rows(sizes: Sequence[int], runs: int = 3) -> list[Row]:
    """Apply vs one load per N (medians of ``runs``), the growth exponents (the apply's,
    Caddy's own load's and ours without it), and Caddy's bytes per route."""
    rows: list[Row] = []
    points, loads, ours = [], [], []
    per_route = 0.0
    for count in sizes:
        m = measured(count, runs)
        ratio = m["apply"] / m["load"]
        points.append((count, m["apply"]))
        loads.append((count, m["load"]))
        ours.append((count, max(m["apply"] - m["load"], 1e-3)))
        per_route = m["bytes"] / count
        rows.append(
            Row(
                f"apply into Caddy, creates: {m['loads']:.0f} load(s), re-plan {m['replan']:.2f} s",
                count,
                f"{m['apply']:.2f} s",
                f"{m['load']:.2f} s (one POST /load of the final config)",
                f"{ratio:.2f}",
                "≤ 1.5",
                ratio <= 1.5,
                None,
            )
        )
    rows.append(_growth_row("apply into Caddy growth: b in log t = a + b log n", points, 1.1))
    # Caddy's own load of the same configs: the part of the growth that is not ours.
    rows.append(_growth_row("  Caddy's own: one POST /load, growth b", loads, None))
    # What routes adds to that load (reads, edits, the mapping): the part that is ours.
    rows.append(_growth_row("  routes' own: the apply less one load, growth b", ours, None))
    shrink = per_route / BYTES_BEFORE
    rows.append(
        Row(
            "bytes per route in Caddy's config",
            sizes[-1],
            f"{per_route:,.0f} B",
            f"{BYTES_BEFORE:,} B (full-spec mapping)",
            f"{shrink:.2f}",
            "≤ 0.5",
            shrink <= 0.5,
            None,
        )
    )
    return rows


def _growth_row(label: str, points: list[tuple[int, float]], goal: float | None) -> Row:
    exponent = growth_exponent(points)
    return Row(
        label,
        points[-1][0],
        ", ".join(f"{t:.2f} s" for _, t in points),
        "at N = " + ", ".join(f"{n:,}" for n, _ in points),
        f"b = {exponent:.2f}",
        f"≤ {goal}" if goal is not None else "—",
        exponent <= goal if goal is not None else None,
        None,
    )


def main(sizes: Sequence[int]) -> None:
    from bench.measure import table

    print(table(caddy_rows(sizes)))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [500, 2000, 5000])
