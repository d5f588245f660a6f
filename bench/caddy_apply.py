"""Time applying N routes into a real Caddy and planning against it (not run by tests).

python -m bench.caddy_apply [N]

Caddy reloads its whole config per load, so what matters is how many loads an apply takes:
the backend writes batches (ApplyOptions.batch_size routes per load).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.apply.guards import resolve_desired_specs
from reconciler.backends.caddy.backend import CaddyBackend
from reconciler.backends.options import CaddyOptions
from reconciler.model import DesiredRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.planner import PlanOptions, make_plan
from tests.caddy_helpers import CaddyProcess, caddy_binary, free_port


def desired(count: int) -> RouteSet:
    routes = {}
    for index in range(count):
        name = f"route-{index:04d}"
        spec = RouteSpec.from_dict(
            {
                "host": f"{name}.example.com",
                "corsPolicy": {"allowOrigins": ["https://www.example.com"]},
                "routes": [
                    {"prefix": "/", "route": {"service": "frontend"}},
                    {"prefix": "/carts", "route": {"service": "shopping-cart"}},
                ],
            }
        )
        routes[name] = DesiredRoute(name, spec, SourceLocation(f"routes/{name}.yaml"))
    return RouteSet(routes)


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        caddy = CaddyProcess(Path(work))
        caddy.start(caddy_binary())
        try:
            options = CaddyOptions(
                listen=(f"127.0.0.1:{free_port()}",),
                upstreams={"frontend": "127.0.0.1:9", "shopping-cart": "127.0.0.1:9"},
            )
            requests: Counter[str] = Counter()
            client = httpx.Client(
                base_url=caddy.admin_url,
                timeout=60.0,
                event_hooks={"request": [lambda request: requests.update([request.method])]},
            )
            backend = CaddyBackend(caddy.admin_url, options, client=client)
            routes = desired(count)
            plan_options = PlanOptions(owner="bench", backend_url=backend.url, tool_version="0")
            plan = make_plan(routes, backend.list_routes(), plan_options)
            specs = resolve_desired_specs(plan, {n: d.spec for n, d in routes.items()})
            requests.clear()
            started = time.perf_counter()
            result = apply_plan(plan, backend, specs, ApplyOptions())
            applied = time.perf_counter() - started
            failed = [r for r in result.results if r.outcome != "applied"]
            loads, reads = requests["POST"], requests["GET"]
            requests.clear()
            started = time.perf_counter()
            rerun = apply_plan(plan, backend, specs, ApplyOptions())
            reapplied = time.perf_counter() - started
            started = time.perf_counter()
            again = make_plan(routes, backend.list_routes(), plan_options)
            planned = time.perf_counter() - started
            print(
                f"apply {count} routes: {applied:.1f} s, {len(failed)} failed,",
                f"{loads} config loads, {reads} reads",
            )
            print(
                f"apply the same plan again: {reapplied:.2f} s,",
                f"{rerun.count('already-applied')} already applied, {requests['POST']} loads",
            )
            print(
                f"list_routes + make_plan over {count}: {planned:.2f} s",
                f"changes left: {again.has_changes}",
            )
        finally:
            caddy.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
