"""The Caddy backend against a real ``caddy run``: contract, traffic, CORS, websockets, mTLS."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.apply.applier import ApplyOptions, apply_plan
from reconciler.backends.base import Backend, Write
from reconciler.backends.caddy.backend import CaddyBackend, open_caddy
from reconciler.backends.options import CaddyOptions
from reconciler.config import Settings
from reconciler.errors import BackendError, InvalidSpecError
from reconciler.model import DesiredRoute, LiveRoute, RouteSet, RouteSpec, SourceLocation
from reconciler.planner import PlanOptions, make_plan
from tests.backends.contract import ANNOTATIONS, FULL_FEATURES, LABELS, BackendContract
from tests.caddy_helpers import (
    CaddyProcess,
    Pki,
    Upstream,
    caddy,
    free_port,
    make_pki,
    upstreams,
)

pytestmark = pytest.mark.caddy
__all__ = ["caddy", "upstreams"]  # module fixtures, re-exported for pytest

SECURE_HOST = "secure.example.com"
OWNER = "acme/gitops"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), SECURE_HOST)


@pytest.fixture(scope="module")
def options(upstreams: dict[str, Upstream], pki: Pki) -> CaddyOptions:
    return CaddyOptions(
        listen=(f"127.0.0.1:{free_port()}",),
        tls_listen=(f"127.0.0.1:{free_port()}",),
        upstreams={
            **{name: upstream.dial for name, upstream in upstreams.items()},
            "*": upstreams["frontend"].dial,
        },
        secrets={
            "my-root-ca": (str(pki.client_ca), str(pki.client_ca)),
            "my-tls-cert": (str(pki.server_pair), str(pki.server_pair)),
        },
    )


@pytest.fixture
def backend(caddy: CaddyProcess, options: CaddyOptions) -> Iterator[CaddyBackend]:
    caddy.reset()
    backend = CaddyBackend(caddy.admin_url, options)
    yield backend
    backend.close()


class TestCaddyContract(BackendContract):
    """The shared contract; Caddy refuses basic auth and subject matchers (see check_spec)."""

    @pytest.fixture
    def backend(self, caddy: CaddyProcess, options: CaddyOptions) -> Iterator[Backend]:
        caddy.reset()
        backend = CaddyBackend(caddy.admin_url, options)
        yield backend
        backend.close()

    def feature_specs(self) -> list[RouteSpec]:
        served = {k: v for k, v in FULL_FEATURES.items() if k != "validation"}
        open_cors = {
            "host": "cors.example.com",
            "corsPolicy": {"allowOrigins": ["*"]},
            "routes": [{"prefix": "/api", "route": {"service": "frontend"}}],
        }
        return [RouteSpec.from_dict(served), RouteSpec.from_dict(open_cors)]


def spec(host: str, rules: dict[str, str], **extra: Any) -> RouteSpec:
    routes = [{"prefix": p, "route": {"service": s}} for p, s in rules.items()]
    return RouteSpec.from_dict({"host": host, "routes": routes, **extra})


def get(options: CaddyOptions, host: str, path: str, **kwargs: Any) -> httpx.Response:
    url = f"http://{options.listen[0]}{path}"
    headers = {"Host": host, **kwargs.pop("headers", {})}
    return httpx.request(kwargs.pop("method", "GET"), url, headers=headers, timeout=10)


def test_requests_reach_the_longest_prefix_with_the_full_path(
    backend: CaddyBackend, options: CaddyOptions
) -> None:
    rules = {"/": "frontend", "/carts": "shopping-cart", "/carts/v2": "carts-v2"}
    backend.create_route("shop", spec("shop.example.com", rules), LABELS, ANNOTATIONS)
    assert get(options, "shop.example.com", "/carts/v2/items?x=1").text == (
        "carts-v2 /carts/v2/items?x=1\n"
    )
    assert get(options, "shop.example.com", "/carts/1").text == "shopping-cart /carts/1\n"
    # literal prefixes: /cartsX starts with /carts; /Carts does not (Caddy's path matcher
    # would ignore case, so the backend matches with a case-sensitive regexp)
    assert get(options, "shop.example.com", "/cartsX").text == "shopping-cart /cartsX\n"
    assert get(options, "shop.example.com", "/Carts/1").text == "frontend /Carts/1\n"
    other_host = get(options, "other.example.com", "/carts/1")
    assert other_host.status_code == 404


def test_a_removed_path_stops_routing(backend: CaddyBackend, options: CaddyOptions) -> None:
    rules = {"/carts": "shopping-cart", "/orders": "carts-v2"}
    first = backend.create_route("shop", spec("shop.example.com", rules), LABELS, ANNOTATIONS)
    assert get(options, "shop.example.com", "/orders/7").text == "carts-v2 /orders/7\n"
    smaller = spec("shop.example.com", {"/carts": "shopping-cart"})
    backend.replace_route("shop", smaller, LABELS, ANNOTATIONS, first.version)
    gone = get(options, "shop.example.com", "/orders/7")
    assert gone.status_code == 404
    assert "no route" in gone.text
    assert get(options, "shop.example.com", "/carts").text == "shopping-cart /carts\n"


def test_cors_preflight_and_actual_requests_follow_the_policy(
    backend: CaddyBackend, options: CaddyOptions
) -> None:
    cors = {"allowOrigins": ["https://www.acme.org"], "allowMethods": ["GET", "POST"]}
    route = spec("shop.example.com", {"/carts": "shopping-cart"}, corsPolicy=cors)
    backend.create_route("shop", route, LABELS, ANNOTATIONS)
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = get(
        options,
        "shop.example.com",
        "/carts/1",
        method="OPTIONS",
        headers={"Origin": "https://www.acme.org", **preflight},
    )
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://www.acme.org"
    assert allowed.headers["Access-Control-Allow-Methods"] == "GET, POST"
    put = get(
        options,
        "shop.example.com",
        "/carts/1",
        method="OPTIONS",
        headers={"Origin": "https://www.acme.org", "Access-Control-Request-Method": "PUT"},
    )
    assert "PUT" not in put.headers["Access-Control-Allow-Methods"]  # so the browser refuses
    refused = get(
        options,
        "shop.example.com",
        "/carts/1",
        method="OPTIONS",
        headers={"Origin": "https://evil.example", **preflight},
    )
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Methods" not in refused.headers
    actual = get(
        options, "shop.example.com", "/carts/1", headers={"Origin": "https://www.acme.org"}
    )
    assert actual.text == "shopping-cart /carts/1\n"
    assert actual.headers["Access-Control-Allow-Origin"] == "https://www.acme.org"
    foreign = get(
        options, "shop.example.com", "/carts/1", headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 200 and "Access-Control-Allow-Origin" not in foreign.headers


def test_websocket_upgrades_are_refused_unless_enabled(
    backend: CaddyBackend, options: CaddyOptions
) -> None:
    route = RouteSpec.from_dict(
        {
            "host": "chat.example.com",
            "routes": [
                {"prefix": "/ws", "route": {"service": "frontend"}, "enableWebsockets": True},
                {"prefix": "/api", "route": {"service": "shopping-cart"}},
            ],
        }
    )
    backend.create_route("chat", route, LABELS, ANNOTATIONS)
    upgrade = {"Connection": "keep-alive, Upgrade", "Upgrade": "websocket"}
    refused = get(options, "chat.example.com", "/api/socket", headers=upgrade)
    assert refused.status_code == 403
    passed = get(options, "chat.example.com", "/ws/socket", headers=upgrade)
    assert passed.text == "frontend /ws/socket\n"  # reached the upstream (which is no websocket)
    assert get(options, "chat.example.com", "/api/x").text == "shopping-cart /api/x\n"


def _tls_get(options: CaddyOptions, pki: Pki, client: tuple[Path, Path] | None) -> httpx.Response:
    context = ssl.create_default_context(cafile=str(pki.server_ca))
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    url = f"https://{options.tls_listen[0]}/carts/1"
    with httpx.Client(verify=context, timeout=10) as http:
        return http.get(
            url, headers={"Host": SECURE_HOST}, extensions={"sni_hostname": SECURE_HOST}
        )


def test_mtls_accepts_only_clients_signed_by_the_configured_ca(
    backend: CaddyBackend, options: CaddyOptions, pki: Pki
) -> None:
    tls = {
        "clientValidationCa": {"name": "my-root-ca"},
        "serverCertificate": {"name": "my-tls-cert"},
    }
    route = spec(SECURE_HOST, {"/carts": "shopping-cart"}, tls=tls)
    backend.create_route("plain", spec("plain.example.com", {"/": "frontend"}), LABELS, {})
    backend.create_route("secure", route, LABELS, ANNOTATIONS)
    assert _tls_get(options, pki, pki.client_pair).text == "shopping-cart /carts/1\n"
    for client in (None, pki.stranger_pair):
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            _tls_get(options, pki, client)
    # an mTLS route is never served in plain HTTP, where no client certificate is asked for
    assert get(options, SECURE_HOST, "/carts/1").status_code == 404


def test_hand_edits_through_the_admin_api_show_up_on_read_back(
    backend: CaddyBackend, caddy: CaddyProcess, options: CaddyOptions, upstreams: Any
) -> None:
    rules = {"/carts": "shopping-cart", "/orders": "shopping-cart"}
    created = backend.create_route("shop", spec("shop.example.com", rules), LABELS, ANNOTATIONS)
    path = f"/config/apps/http/servers/{options.server}/routes/0/handle/1/routes"
    subroutes = caddy.config(path)
    for index, sub in enumerate(subroutes):
        if sub["handle"][0]["handler"] == "reverse_proxy" and "orders" in str(sub["match"]):
            edit = httpx.patch(
                f"{caddy.admin_url}{path}/{index}/handle/0/upstreams",
                json=[{"dial": upstreams["carts-v2"].dial}],
            )
            assert edit.status_code == 200
    live = backend.get_route("shop")
    assert live is not None and live.version != created.version
    assert live.spec == spec("shop.example.com", {**rules, "/orders": "carts-v2"})
    assert get(options, "shop.example.com", "/orders/1").text == "carts-v2 /orders/1\n"


def test_routes_not_written_by_routes_are_listed_unmanaged_and_survive(
    backend: CaddyBackend, caddy: CaddyProcess, options: CaddyOptions
) -> None:
    backend.create_route("shop", spec("shop.example.com", {"/": "frontend"}), LABELS, ANNOTATIONS)
    legacy = {
        "match": [{"host": ["legacy.example.com"]}],
        "handle": [{"handler": "static_response", "body": "legacy\n"}],
    }
    url = f"{caddy.admin_url}/config/apps/http/servers/{options.server}/routes/0"
    assert httpx.put(url, json=legacy).status_code == 200
    listed = {route.name: route for route in backend.list_routes()}
    unmanaged = [r for r in listed.values() if r.spec.host == "legacy.example.com"]
    assert len(unmanaged) == 1 and dict(unmanaged[0].labels) == {}
    shop = listed["shop"]
    backend.replace_route(
        "shop", spec("shop.example.com", {"/x": "frontend"}), LABELS, {}, shop.version
    )
    backend.create_route("blog", spec("blog.example.com", {"/": "frontend"}), LABELS, ANNOTATIONS)
    backend.delete_route("shop", None)
    assert get(options, "legacy.example.com", "/").text == "legacy\n"
    assert [r.spec.host for r in backend.list_routes() if not r.labels] == ["legacy.example.com"]


def test_unenforceable_specs_are_refused_with_a_reason(backend: CaddyBackend) -> None:
    basic = {"httpBasic": {"realm": "r", "passwordHashes": {"admin": "sha256:AAAA"}}}
    subjects = {"clientCertificate": {"subjectMatches": [{"exact": "client.acme.org"}]}}
    cases = {
        "httpBasic": spec("a.example.com", {"/": "frontend"}, validation=basic),
        "subjectMatches": spec("a.example.com", {"/": "frontend"}, validation=subjects),
        "billing": spec("a.example.com", {"/": "frontend"}),
        "nope-ca": spec(
            "a.example.com", {"/": "x"}, tls={"serverCertificate": {"name": "nope-ca"}}
        ),
    }
    strict = CaddyBackend(backend.admin_url, CaddyOptions(upstreams={"frontend": "127.0.0.1:1"}))
    for needle, route in cases.items():
        if needle == "billing":
            route = spec("a.example.com", {"/billing": "billing"})
        problems = strict.check_spec("shop", route)
        assert any(needle in p and "'shop'" in p for p in problems), problems
        with pytest.raises(InvalidSpecError):
            strict.create_route("shop", route, LABELS, ANNOTATIONS)
    assert strict.list_routes() == []
    assert "AAAA" not in str(strict.check_spec("s", cases["httpBasic"]))  # no hash shown


def test_a_stopped_caddy_is_reported_with_what_to_do() -> None:
    backend = CaddyBackend(f"http://127.0.0.1:{free_port()}", CaddyOptions())
    with pytest.raises(BackendError) as caught:
        backend.list_routes()
    assert "is Caddy running?" in (caught.value.hint or "")
    assert "127.0.0.1" in caught.value.message


def test_open_caddy_reads_the_caddy_settings(tmp_path: Path) -> None:
    settings = Settings(
        root=tmp_path,
        caddy={
            "server": "edge",
            "listen": ":9090",
            "upstreams": {"cart": "127.0.0.1:9001"},
            "secrets": {"ca": "certs/ca.pem", "site": {"cert": "c.pem", "key": "k.pem"}},
        },
    )
    backend = open_caddy("caddy+http://127.0.0.1:2019", settings.backend_options().caddy)
    assert backend.url == "caddy+http://127.0.0.1:2019"
    assert backend.options.server == "edge" and backend.options.listen == (":9090",)
    assert backend.options.secrets["ca"] == (str(tmp_path / "certs/ca.pem"),) * 2
    assert backend.options.secrets["site"] == (str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    backend.close()


def test_plan_and_apply_reach_an_empty_plan(backend: CaddyBackend, options: CaddyOptions) -> None:
    desired = RouteSet(
        {
            name: DesiredRoute(name, route, SourceLocation(f"routes/{name}.yaml"))
            for name, route in {
                "shop": spec("shop.example.com", {"/carts": "shopping-cart", "/": "frontend"}),
                "blog": spec("blog.example.com", {"/": "frontend"}),
            }.items()
        }
    )
    plan_options = PlanOptions(owner=OWNER, backend_url=backend.url, tool_version="0")
    plan = make_plan(desired, backend.list_routes(), plan_options)
    specs = {n: d.spec for n, d in desired.items()}
    result = apply_plan(plan, backend, specs, ApplyOptions())
    assert {r.route: r.outcome for r in result.results} == {"shop": "applied", "blog": "applied"}
    assert get(options, "shop.example.com", "/carts/9").text == "shopping-cart /carts/9\n"
    assert not make_plan(desired, backend.list_routes(), plan_options).has_changes


# -- batched writes: many routes per config load ----------------------------------------------


class CountingBackend:
    """A Caddy backend whose admin requests are counted, by method."""

    def __init__(self, caddy: CaddyProcess, options: CaddyOptions) -> None:
        self.requests: list[str] = []
        self.on_post: Callable[[], None] | None = None
        client = httpx.Client(
            base_url=caddy.admin_url, timeout=30.0, event_hooks={"request": [self._seen]}
        )
        self.client = client
        self.backend = CaddyBackend(caddy.admin_url, options, client=client)

    def _seen(self, request: httpx.Request) -> None:
        self.requests.append(request.method)
        if request.method == "POST" and self.on_post is not None:
            hook, self.on_post = self.on_post, None
            hook()

    @property
    def loads(self) -> int:
        return self.requests.count("POST")


@pytest.fixture
def counting(caddy: CaddyProcess, options: CaddyOptions) -> Iterator[CountingBackend]:
    caddy.reset()
    counting = CountingBackend(caddy, options)
    yield counting
    counting.client.close()


def desired_set(routes: dict[str, RouteSpec]) -> RouteSet:
    return RouteSet(
        {n: DesiredRoute(n, s, SourceLocation(f"routes/{n}.yaml")) for n, s in routes.items()}
    )


def test_a_50_route_apply_takes_one_config_load_and_every_route_serves(
    counting: CountingBackend, options: CaddyOptions
) -> None:
    backend = counting.backend
    routes = {f"r{i:02d}": spec(f"r{i:02d}.example.com", {"/": "frontend"}) for i in range(50)}
    routes["r07"] = spec("r07.example.com", {"/": "frontend", "/carts": "shopping-cart"})
    plan_options = PlanOptions(owner=OWNER, backend_url=backend.url, tool_version="0")
    plan = make_plan(desired_set(routes), backend.list_routes(), plan_options)
    specs = routes
    result = apply_plan(plan, backend, specs, ApplyOptions())
    assert result.ok and result.count("applied") == 50
    assert counting.loads == 1
    for name in routes:
        assert get(options, f"{name}.example.com", "/x").text == "frontend /x\n"
    assert get(options, "r07.example.com", "/carts/1").text == "shopping-cart /carts/1\n"

    # updates and prunes: one load per phase, still make before break
    changed = {n: spec(f"{n}.example.com", {"/": "carts-v2"}) for n in list(routes)[:10]}
    kept = {**{n: routes[n] for n in list(routes)[:45]}, **changed}
    prune = PlanOptions(owner=OWNER, backend_url=backend.url, tool_version="0", prune=True)
    second = make_plan(desired_set(kept), backend.list_routes(), prune)
    assert second.summary()["change"] == 10 and second.summary()["destroy"] == 5
    counting.requests.clear()
    result = apply_plan(second, backend, kept, ApplyOptions())
    assert result.ok and counting.loads == 2
    assert get(options, "r03.example.com", "/x").text == "carts-v2 /x\n"
    assert get(options, "r47.example.com", "/x").status_code == 404
    assert not make_plan(desired_set(kept), backend.list_routes(), prune).has_changes


def test_write_batch_refuses_stale_versions_and_loads_the_rest_at_once(
    counting: CountingBackend, options: CaddyOptions
) -> None:
    backend = counting.backend
    shop = backend.create_route("shop", spec("shop.example.com", {"/": "frontend"}), LABELS, {})
    blog = backend.create_route("blog", spec("blog.example.com", {"/": "frontend"}), LABELS, {})
    counting.requests.clear()
    outcomes = backend.write_batch(
        [
            Write("shop", "replace", spec("shop.example.com", {"/": "carts-v2"}), LABELS, {}, "0"),
            Write("new", "create", spec("new.example.com", {"/": "shopping-cart"}), LABELS, {}),
            Write("blog", "delete", expected_version=blog.version),
            Write("blog", "create", spec("blog.example.com", {"/": "carts-v2"}), LABELS, {}),
            Write("ghost", "delete", expected_version=None),
            Write("shop", "create", spec("shop.example.com", {"/": "carts-v2"}), LABELS, {}),
        ]
    )
    kinds = [type(outcome).__name__ for outcome in outcomes]
    assert kinds == [
        "ConflictError",
        "LiveRoute",
        "NoneType",
        "LiveRoute",
        "NotFoundError",
        "ConflictError",
    ]
    assert "shop" in str(outcomes[0]) and shop.version in str(outcomes[0])
    assert counting.loads == 1
    assert get(options, "shop.example.com", "/").text == "frontend /\n"  # untouched
    assert get(options, "new.example.com", "/").text == "shopping-cart /\n"
    assert get(options, "blog.example.com", "/").text == "carts-v2 /\n"
    live = backend.get_routes(["new", "blog", "ghost"])
    written = {"new": outcomes[1], "blog": outcomes[3]}
    assert {n: (r.spec, r.version) for n, r in live.items()} == {
        n: (r.spec, r.version) for n, r in written.items() if isinstance(r, LiveRoute)
    }


def test_an_edit_by_someone_else_during_a_batch_is_kept_and_the_batch_loaded_again(
    counting: CountingBackend, caddy: CaddyProcess, options: CaddyOptions
) -> None:
    backend = counting.backend
    backend.create_route("shop", spec("shop.example.com", {"/": "frontend"}), LABELS, {})
    legacy = {
        "match": [{"host": ["legacy.example.com"]}],
        "handle": [{"handler": "static_response", "body": "legacy\n"}],
    }
    url = f"{caddy.admin_url}/config/apps/http/servers/{options.server}/routes/0"
    counting.on_post = lambda: httpx.put(url, json=legacy, timeout=10).raise_for_status()
    counting.requests.clear()
    names = [f"r{i}" for i in range(5)]
    writes = [
        Write(n, "create", spec(f"{n}.example.com", {"/": "frontend"}), LABELS, {}) for n in names
    ]
    outcomes = backend.write_batch(writes)
    assert all(isinstance(outcome, LiveRoute) for outcome in outcomes)
    assert counting.loads == 2  # the first lost to the other editor (412)
    assert get(options, "legacy.example.com", "/").text == "legacy\n"
    assert get(options, "r4.example.com", "/").text == "frontend /\n"


def test_a_route_caddy_cannot_load_fails_alone_in_its_batch(
    caddy: CaddyProcess, options: CaddyOptions, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n", encoding="utf-8")
    broken = replace(options, secrets={**options.secrets, "junk": (str(junk), str(junk))})
    caddy.reset()
    counting = CountingBackend(caddy, broken)
    try:
        tls = {"serverCertificate": {"name": "junk"}}
        writes = [
            Write(f"r{i}", "create", spec(f"r{i}.example.com", {"/": "frontend"}), LABELS, {})
            for i in range(6)
        ]
        writes[4] = Write("r4", "create", spec(SECURE_HOST, {"/": "frontend"}, tls=tls), {}, {})
        outcomes = counting.backend.write_batch(writes)
        refused = outcomes.pop(4)
        assert isinstance(refused, InvalidSpecError)
        assert "'r4'" in refused.message and "PEM" in refused.message
        assert all(isinstance(outcome, LiveRoute) for outcome in outcomes)
        assert counting.loads <= 7  # halving, not one load per route
        assert get(options, "r5.example.com", "/").text == "frontend /\n"
        assert [r.name for r in counting.backend.list_routes()] == ["r0", "r1", "r2", "r3", "r5"]
    finally:
        counting.client.close()
