"""The contract every backend passes (DESIGN §1: backends are interchangeable).

Use it by subclassing in a test file and providing a ``backend`` fixture that yields a
fresh, empty backend per test::

    class TestMyBackendContract(BackendContract):
        @pytest.fixture
        def backend(self, tmp_path: Path) -> Iterator[Backend]:
            backend = MyBackend(...)
            yield backend
            backend.close()

Optional behaviour is asserted only where ``backend.capabilities`` claims it. A backend that
cannot hold some spec feature overrides ``feature_specs``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from reconciler.backends.base import Backend, BatchWriter, Capabilities, Write
from reconciler.errors import ConflictError, NotFoundError
from reconciler.model import LiveRoute, RouteSpec

LABELS = {"managed-by": "routes", "routes/owner": "acme/gitops"}
ANNOTATIONS = {
    "routes/source-commit": "0123456789abcdef0123456789abcdef01234567",
    "routes/source-path": "routes/shop.yaml",
    "routes/spec-digest": "sha256:abc",
}


def simple_spec(host: str = "shop.example.com", service: str = "shopping-cart") -> RouteSpec:
    """A one-path route spec."""
    return RouteSpec.from_dict(
        {"host": host, "routes": [{"prefix": "/", "route": {"service": service}}]}
    )


FULL_FEATURES: dict[str, Any] = {
    "host": "Secure.Example.COM.",
    "tls": {
        "clientValidationCa": {"name": "my-root-ca"},
        "serverCertificate": {"name": "my-tls-cert"},
    },
    "validation": {
        "clientCertificate": {
            "subjectMatches": [
                {"hasSuffix": ".acme.org"},
                {"exact": "client.acme.org"},
                {"hasPrefix": "svc-"},
                {"regex": "^c[0-9]+\\.acme\\.org$"},
            ]
        },
        "httpBasic": {
            "realm": "My Realm",
            "passwordHashes": {
                "admin": "sha256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
                "ops": "sha512:z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKH"
                "fuwvY7kxvUdBeoGlODJ6+SfaPg==",
            },
        },
    },
    "corsPolicy": {
        "allowOrigins": ["https://www.acme.org", "https://admin.acme.org"],
        "allowMethods": ["post", "GET"],
    },
    "routes": [
        {"prefix": "/carts", "route": {"service": "shopping-cart"}, "name": "carts"},
        {"prefix": "/ws", "route": {"service": "chat"}, "enableWebsockets": True},
        {"prefix": "/", "route": {"service": "frontend"}},
        {"prefix": "/carts/", "route": {"service": "carts-v2"}},
    ],
}


class BackendContract:
    """Tests every backend must pass; subclasses provide the ``backend`` fixture."""

    def feature_specs(self) -> list[RouteSpec]:
        """Specs exercising every route feature the backend claims to store."""
        basic_only = {k: v for k, v in FULL_FEATURES.items() if k not in ("tls", "validation")}
        basic_only["validation"] = {"httpBasic": FULL_FEATURES["validation"]["httpBasic"]}
        return [RouteSpec.from_dict(FULL_FEATURES), RouteSpec.from_dict(basic_only)]

    # -- reading --------------------------------------------------------------------------

    def test_capabilities_present(self, backend: Backend) -> None:
        assert isinstance(backend.capabilities, Capabilities)
        assert isinstance(backend.url, str) and backend.url

    def test_empty_backend_lists_nothing(self, backend: Backend) -> None:
        assert backend.list_routes() == []
        assert backend.get_route("shop") is None
        assert backend.get_routes(["shop", "other"]) == {}

    def test_created_route_reads_back(self, backend: Backend) -> None:
        spec = simple_spec()
        created = backend.create_route("shop", spec, LABELS, ANNOTATIONS)
        fetched = backend.get_route("shop")
        assert fetched is not None
        listed = backend.list_routes()
        assert [route.name for route in listed] == ["shop"]
        for route in (created, fetched, listed[0]):
            assert route.name == "shop"
            assert route.spec == spec
            assert route.spec.fingerprint() == spec.fingerprint()
            assert route.version
        assert fetched.version == created.version == listed[0].version
        if backend.capabilities.labels:
            assert dict(fetched.labels) == LABELS
            assert dict(fetched.annotations) == ANNOTATIONS

    def test_created_route_is_ready(self, backend: Backend) -> None:
        backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        fetched = backend.get_route("shop")
        assert fetched is not None and fetched.ready
        ready = fetched.condition("Ready")
        assert ready is not None and ready.last_transition_time

    def test_list_is_sorted_by_name(self, backend: Backend) -> None:
        for name in ("mango", "apple", "zebra", "kiwi-2", "kiwi"):
            backend.create_route(name, simple_spec(f"{name}.example.com"), LABELS, ANNOTATIONS)
        assert [r.name for r in backend.list_routes()] == [
            "apple",
            "kiwi",
            "kiwi-2",
            "mango",
            "zebra",
        ]

    def test_get_routes_returns_the_existing_subset(self, backend: Backend) -> None:
        for name in ("a", "b", "c"):
            backend.create_route(name, simple_spec(f"{name}.example.com"), LABELS, ANNOTATIONS)
        found = backend.get_routes(["a", "c", "missing"])
        assert sorted(found) == ["a", "c"]
        assert found["c"].spec == simple_spec("c.example.com")
        assert backend.get_routes([]) == {}

    def test_every_feature_round_trips(self, backend: Backend) -> None:
        for index, spec in enumerate(self.feature_specs()):
            name = f"full-{index}"
            backend.create_route(name, spec, LABELS, ANNOTATIONS)
            fetched = backend.get_route(name)
            assert fetched is not None
            assert fetched.spec == spec
            assert fetched.spec.fingerprint() == spec.fingerprint()
            assert fetched.spec.to_dict() == spec.to_dict()

    # -- writing --------------------------------------------------------------------------

    def test_create_existing_conflicts(self, backend: Backend) -> None:
        first = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        with pytest.raises(ConflictError):
            backend.create_route("shop", simple_spec(service="other"), LABELS, ANNOTATIONS)
        after = backend.get_route("shop")
        assert after is not None
        assert after.spec == first.spec and after.version == first.version

    def test_replace_with_current_version(self, backend: Backend) -> None:
        first = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        new_spec = simple_spec(service="carts-v2")
        new_labels = {**LABELS, "tier": "gold"}
        replaced = backend.replace_route("shop", new_spec, new_labels, ANNOTATIONS, first.version)
        assert replaced.version != first.version
        fetched = backend.get_route("shop")
        assert fetched is not None
        assert fetched.spec == new_spec
        assert fetched.version == replaced.version
        if backend.capabilities.labels:
            assert dict(fetched.labels) == new_labels

    def test_replace_without_expected_version_is_unconditional(self, backend: Backend) -> None:
        first = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        replaced = backend.replace_route(
            "shop", simple_spec(service="v2"), LABELS, ANNOTATIONS, None
        )
        assert replaced.version != first.version
        fetched = backend.get_route("shop")
        assert fetched is not None and fetched.spec == simple_spec(service="v2")

    def test_replace_with_stale_version_conflicts_and_changes_nothing(
        self, backend: Backend
    ) -> None:
        if not backend.capabilities.conditional_writes:
            pytest.skip("backend has no conditional writes")
        first = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        second = backend.replace_route(
            "shop", simple_spec(service="v2"), LABELS, ANNOTATIONS, first.version
        )
        with pytest.raises(ConflictError):
            backend.replace_route(
                "shop", simple_spec(service="v3"), LABELS, ANNOTATIONS, first.version
            )
        fetched = backend.get_route("shop")
        assert fetched is not None
        assert fetched.spec == simple_spec(service="v2")
        assert fetched.version == second.version

    def test_replace_missing_is_not_found(self, backend: Backend) -> None:
        with pytest.raises(NotFoundError):
            backend.replace_route("ghost", simple_spec(), LABELS, ANNOTATIONS, None)
        with pytest.raises(NotFoundError):
            backend.replace_route("ghost", simple_spec(), LABELS, ANNOTATIONS, "1")
        assert backend.get_route("ghost") is None

    def test_delete_with_current_version(self, backend: Backend) -> None:
        created = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        backend.create_route("keep", simple_spec("keep.example.com"), LABELS, ANNOTATIONS)
        backend.delete_route("shop", created.version)
        assert backend.get_route("shop") is None
        assert [r.name for r in backend.list_routes()] == ["keep"]

    def test_delete_with_stale_version_conflicts(self, backend: Backend) -> None:
        if not backend.capabilities.conditional_writes:
            pytest.skip("backend has no conditional writes")
        first = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        backend.replace_route("shop", simple_spec(service="v2"), LABELS, ANNOTATIONS, first.version)
        with pytest.raises(ConflictError):
            backend.delete_route("shop", first.version)
        assert backend.get_route("shop") is not None

    def test_delete_missing_is_not_found(self, backend: Backend) -> None:
        with pytest.raises(NotFoundError):
            backend.delete_route("ghost", None)
        backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        with pytest.raises(NotFoundError):
            backend.delete_route("ghost", "1")

    def test_versions_are_never_reused(self, backend: Backend) -> None:
        seen: set[str] = set()
        for round_ in range(3):
            created = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
            replaced = backend.replace_route(
                "shop", simple_spec(service=f"v{round_}"), LABELS, ANNOTATIONS, created.version
            )
            for version in (created.version, replaced.version):
                assert version not in seen
                seen.add(version)
            backend.delete_route("shop", replaced.version)
        if backend.capabilities.conditional_writes:
            backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
            # A version from before the delete must not match the re-created route (ABA).
            with pytest.raises(ConflictError):
                backend.replace_route("shop", simple_spec(), LABELS, ANNOTATIONS, sorted(seen)[0])

    def test_concurrent_conditional_replaces_have_one_winner(self, backend: Backend) -> None:
        if not backend.capabilities.conditional_writes:
            pytest.skip("backend has no conditional writes")
        base = backend.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
        start = threading.Barrier(10)
        outcomes: list[str] = []
        winners: list[LiveRoute] = []
        lock = threading.Lock()

        def contender(index: int) -> None:
            start.wait()
            spec = simple_spec(service=f"writer-{index}")
            try:
                route = backend.replace_route("shop", spec, LABELS, ANNOTATIONS, base.version)
            except ConflictError:
                outcome = "conflict"
            else:
                outcome = "won"
                with lock:
                    winners.append(route)
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=contender, args=(i,)) for i in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["conflict"] * 9 + ["won"]
        final = backend.get_route("shop")
        assert final is not None
        assert final.version == winners[0].version
        assert final.spec == winners[0].spec


class BatchWriterContract:
    """What every backend with ``batch_writes`` does in ``write_batch``: each write decided
    as its single-route method would decide it, seeing the writes before it, in order."""

    def test_a_batch_answers_each_write_as_the_single_methods_would(self, backend: Backend) -> None:
        assert backend.capabilities.batch_writes and isinstance(backend, BatchWriter)
        kept = backend.create_route("kept", simple_spec("kept.example.com"), LABELS, ANNOTATIONS)
        gone = backend.create_route("gone", simple_spec("gone.example.com"), LABELS, ANNOTATIONS)
        spec = RouteSpec.from_dict(FULL_FEATURES)
        outcomes = backend.write_batch(
            [
                Write("new", "create", spec, LABELS, ANNOTATIONS),
                Write("kept", "replace", spec, LABELS, {}, "999999"),  # a stale version
                Write("gone", "delete", expected_version=gone.version),
                Write("missing", "delete"),
            ]
        )
        assert [type(o).__name__ for o in outcomes] == [
            "LiveRoute",
            "ConflictError",
            "NoneType",
            "NotFoundError",
        ]
        new = outcomes[0]
        assert isinstance(new, LiveRoute) and new.name == "new"
        assert backend.get_route("new") == new  # what it answers is what a read gives back
        assert backend.get_route("kept") == kept  # the refused write changed nothing
        assert backend.get_route("gone") is None
        assert int(new.version) > int(gone.version)

    def test_a_batch_resent_after_its_answer_was_lost_writes_nothing_twice(
        self, backend: Backend
    ) -> None:
        assert isinstance(backend, BatchWriter)
        writes = [
            Write(f"r{i}", "create", simple_spec(f"r{i}.example.com"), LABELS, ANNOTATIONS)
            for i in range(3)
        ]
        first = backend.write_batch(writes)
        assert all(isinstance(o, LiveRoute) for o in first)
        again = backend.write_batch(writes)
        assert [type(o).__name__ for o in again] == ["ConflictError"] * 3
        assert backend.list_routes() == first
