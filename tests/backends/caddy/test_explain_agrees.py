"""``routes explain`` against a real engine: random route sets applied to a real Caddy,
random requests sent through it, and every answer must come from the service explain names.

The one matching function (``reconciler.matching``) decides for ``routes explain``, the
plan's traffic block and ``routes test``; this checks it against what Caddy really serves.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.caddy.backend import CaddyBackend
from reconciler.backends.options import CaddyOptions
from reconciler.descriptors.expectations import parse_url
from reconciler.matching import RoutingTable
from reconciler.model import DesiredRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.planner import PlanOptions, make_plan
from reconciler.render.explain import explanation
from tests.caddy_helpers import CaddyProcess, Upstream, caddy, free_port, upstreams

pytestmark = pytest.mark.caddy
__all__ = ["caddy", "upstreams"]  # module fixtures, re-exported for pytest

HOSTS = ["a.example.com", "b.example.com", "c.example.com"]
SERVICES = ["frontend", "shopping-cart", "carts-v2"]
# Few, short segments, so prefixes nest, overlap, differ in case and end mid-segment, and
# requests hold dot segments, empty segments (//) and escaped unreserved characters.
_SEGMENTS = ["a", "b", "A", "ab", "a-b", "", ".", "..", "%61", "%2e", "%2E%2e"]
_PREFIX_SEGMENTS = ["a", "b", "A", "ab", "a-b", "", "."]
prefixes = st.lists(st.sampled_from(_PREFIX_SEGMENTS), max_size=3).map(lambda s: "/" + "/".join(s))
paths = st.lists(st.sampled_from(_SEGMENTS), max_size=5).map(lambda s: "/" + "/".join(s))
request_hosts = st.sampled_from([*HOSTS, "A.Example.COM", "nowhere.example.com"])


@st.composite
def route_sets(draw: st.DrawFn) -> dict[str, RouteSpec]:
    found = {}
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        rules = draw(st.dictionaries(prefixes, st.sampled_from(SERVICES), min_size=1, max_size=5))
        routes = [{"prefix": p, "route": {"service": s}} for p, s in rules.items()]
        found[f"r{index}"] = RouteSpec.from_dict(
            {"host": draw(st.sampled_from(HOSTS)), "routes": routes}
        )
    return found


def _nests_across_routes(routes: dict[str, RouteSpec]) -> bool:
    """Two routes of one host whose prefixes nest or tie (W101): Caddy then serves them in
    the order they were written, not by the longest prefix (README, Explain)."""
    rules = [(spec.host, rule.prefix, name) for name, spec in routes.items() for rule in spec.paths]
    return any(
        host == other_host and name != other_name and prefix.startswith(other)
        for host, prefix, name in rules
        for other_host, other, other_name in rules
    )


@pytest.fixture(scope="module")
def options(upstreams: dict[str, Upstream]) -> CaddyOptions:
    return CaddyOptions(
        listen=(f"127.0.0.1:{free_port()}",),
        upstreams={name: upstream.dial for name, upstream in upstreams.items()},
    )


@pytest.fixture(scope="module")
def backend(caddy: CaddyProcess, options: CaddyOptions) -> Iterator[CaddyBackend]:
    caddy.reset()
    backend = CaddyBackend(caddy.admin_url, options)
    yield backend
    backend.close()


def _send(options: CaddyOptions, host: str, path: str) -> tuple[int, str]:
    """The request as written (http.client sends the path unnormalised)."""
    address, port = options.listen[0].rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def _apply(backend: CaddyBackend, routes: dict[str, RouteSpec]) -> None:
    desired = RouteSet(
        {n: DesiredRoute(n, s, SourceLocation(f"routes/{n}.yaml")) for n, s in routes.items()}
    )
    plan_options = PlanOptions("acme/gitops", backend.url, "0", prune=True)
    plan = make_plan(desired, backend.list_routes(), plan_options)
    result = apply_plan(plan, backend, routes, ApplyOptions())
    assert result.ok, result.to_dict()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(
    routes=route_sets(),
    requests=st.lists(st.tuples(request_hosts, paths), min_size=4, max_size=20),
)
@example(
    routes={
        "r0": RouteSpec.from_dict(
            {
                "host": "a.example.com",
                "routes": [
                    {"prefix": "/", "route": {"service": "frontend"}},
                    {"prefix": "/a", "route": {"service": "shopping-cart"}},
                    {"prefix": "/b/", "route": {"service": "carts-v2"}},
                ],
            }
        )
    },
    requests=[
        ("a.example.com", "/b/../a"),
        ("a.example.com", "//b//x"),
        ("a.example.com", "/%61"),
        ("a.example.com", "/%2e%2E/b/"),
        ("A.Example.COM", "/./a"),
        ("a.example.com", "/A"),
    ],
)
def test_every_answer_comes_from_the_service_explain_names(
    backend: CaddyBackend,
    options: CaddyOptions,
    routes: dict[str, RouteSpec],
    requests: list[tuple[str, str]],
) -> None:
    assume(not _nests_across_routes(routes))
    _apply(backend, routes)
    described = RoutingTable(routes)
    live = RoutingTable((r.name, r.spec) for r in backend.list_routes())
    for host, path in requests:
        target = parse_url(f"http://{host}{path}")
        explained = explanation(
            target.url, target.host, target.path, described.match(host, path), {}, []
        )
        live_match = live.match(host, path)
        assert (live_match.rule.service if live_match else None) == explained.get("service")
        status, body = _send(options, host, path)
        if explained["route"] is None:
            assert status == 404, (host, path, body)
        else:
            assert (status, body.split(" ")[0]) == (200, explained["service"]), (host, path, body)
