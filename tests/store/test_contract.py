"""The store contract: what every route store does, SQLite file or PostgreSQL database alike.

Each test runs against both (``tests/store/conftest.py``); the SQLite- and PostgreSQL-only
behaviour (files, locks, migrations, connections) is in ``test_sqlite.py`` and
``test_postgres.py``.
"""

from __future__ import annotations

import re
import threading
import uuid

import pytest

from reconciler.errors import ConflictError, NotFoundError, UsageError
from reconciler.model import RouteSpec
from reconciler.store import RouteStore, RouteWrite, StoredRoute
from tests.backends.contract import ANNOTATIONS, FULL_FEATURES, LABELS, simple_spec
from tests.store.conftest import Opener

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_routes_and_versions_survive_reopening(reopen: Opener) -> None:
    first = reopen()
    spec = RouteSpec.from_dict(FULL_FEATURES)
    created = first.create_route("shop", spec, LABELS, ANNOTATIONS)
    gone = first.create_route("gone", simple_spec("gone.example.com"), LABELS, ANNOTATIONS)
    first.delete_route("gone", gone.version)
    first.close()

    second = reopen()
    reread = second.get_route("shop")
    assert reread is not None
    assert reread.spec == spec and reread.version == created.version
    assert dict(reread.annotations) == ANNOTATIONS
    again = second.create_route("gone", simple_spec("gone.example.com"), LABELS, ANNOTATIONS)
    assert int(again.version) > int(gone.version)
    second.close()


def test_timestamps_and_conditions_are_iso_utc(store: RouteStore) -> None:
    created = store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    replaced = store.replace_route("shop", simple_spec(service="v2"), {}, {}, created.version)
    assert ISO_UTC.match(created.created_at) and ISO_UTC.match(replaced.updated_at)
    assert replaced.created_at == created.created_at
    assert replaced.updated_at >= created.updated_at
    assert [c.type for c in replaced.conditions] == ["HostValidation", "Ready"]
    for condition in replaced.conditions:
        assert condition.status == "True"
        assert condition.last_transition_time == replaced.updated_at
    store.close()


def test_registered_mode_requires_a_registered_hostname(store: RouteStore) -> None:
    store.create_route("shop", simple_spec("shop.example.com"), LABELS, ANNOTATIONS)
    assert store.hostname_mode() == "any"
    assert store.get_route("shop").to_live().ready  # type: ignore[union-attr]

    store.set_hostname_mode("registered")
    blocked = store.get_route("shop")
    assert blocked is not None and not blocked.to_live().ready
    for type_ in ("HostValidation", "Ready"):
        condition = blocked.to_live().condition(type_)
        assert condition is not None
        assert (condition.status, condition.reason) == ("False", "HostnameNotRegistered")
        assert "shop.example.com" in condition.message
        assert "/v1/hostnames" in condition.message
    assert store.get_route("shop") == blocked  # stable across reads, time included

    registered = store.add_hostname("Shop.Example.COM.")
    assert registered.hostname == "shop.example.com"
    ready = store.get_route("shop")
    assert ready is not None and ready.to_live().ready
    assert ready.conditions[1].reason == "RouteReady"
    expected_time = max(ready.updated_at, registered.created_at)
    assert all(c.last_transition_time >= expected_time for c in ready.conditions)
    assert store.get_route("shop") == ready

    store.remove_hostname("shop.example.com")
    assert not store.get_route("shop").to_live().ready  # type: ignore[union-attr]
    store.close()


def test_hostname_registry(store: RouteStore) -> None:
    store.add_hostname("b.example.com")
    store.add_hostname("a.example.com")
    assert [h.hostname for h in store.list_hostnames()] == ["a.example.com", "b.example.com"]
    with pytest.raises(ConflictError):
        store.add_hostname("A.example.com")
    with pytest.raises(NotFoundError):
        store.remove_hostname("c.example.com")
    with pytest.raises(UsageError):
        store.set_hostname_mode("sometimes")
    with pytest.raises(UsageError):
        store.add_hostname("  ")
    store.close()


# -- server-facing API ------------------------------------------------------------------------


def test_list_page_walks_every_route_once(store: RouteStore) -> None:
    names = [f"route-{i:02d}" for i in range(25)]
    for name in reversed(names):
        store.create_route(name, simple_spec(f"{name}.example.com"), LABELS, ANNOTATIONS)
    seen: list[str] = []
    token: str | None = None
    sizes: list[int] = []
    while True:
        page, token = store.list_page(10, token)
        sizes.append(len(page))
        seen.extend(route.name for route in page)
        if len(seen) == 10:
            # Writes between pages neither repeat nor skip the routes that were there.
            store.create_route("aaa-late", simple_spec(), LABELS, ANNOTATIONS)
            store.delete_route("route-00", None)
        if token is None:
            break
    assert seen == names
    assert sizes == [10, 10, 5]
    assert store.list_page(25, None)[1] is None
    with pytest.raises(UsageError):
        store.list_page(0, None)
    store.close()


def test_put_route_reports_creation_and_honours_preconditions(store: RouteStore) -> None:
    created, was_created = store.put_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    assert was_created
    replaced, was_created = store.put_route("shop", simple_spec(service="v2"), {}, {})
    assert not was_created and replaced.version != created.version
    with pytest.raises(ConflictError):
        store.put_route("shop", simple_spec(), {}, {}, must_not_exist=True)
    with pytest.raises(ConflictError):
        store.put_route("shop", simple_spec(), {}, {}, expected_version=created.version)
    with pytest.raises(ConflictError):
        store.put_route("ghost", simple_spec(), {}, {}, expected_version="*")
    assert store.get_route("ghost") is None
    store.close()


def test_get_routes_spans_several_batches(store: RouteStore) -> None:
    wanted = [f"n{i:04d}" for i in range(1500)]
    for name in ("n0001", "n0750", "n1499"):
        store.create_route(name, simple_spec(f"{name}.example.com"), LABELS, ANNOTATIONS)
    found = store.get_routes(wanted)
    assert sorted(found) == ["n0001", "n0750", "n1499"]
    assert found["n1499"].spec.host == "n1499.example.com"
    store.close()


def test_two_stores_on_one_location_have_one_winner(reopen: Opener) -> None:
    """Like two replicas on one database, or a server and a CLI on one file: the check and
    the write are one atomic step."""
    stores = [reopen(), reopen()]
    base = stores[0].create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    start = threading.Barrier(10)
    results: list[str] = []

    def contender(index: int) -> None:
        start.wait()
        try:
            stores[index % 2].replace_route(
                "shop", simple_spec(service=f"w{index}"), LABELS, ANNOTATIONS, base.version
            )
            results.append("won")
        except ConflictError:
            results.append("conflict")

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["conflict"] * 9 + ["won"]
    for store in stores:
        store.close()


def test_delete_honours_its_condition_and_a_missing_route(store: RouteStore) -> None:
    created = store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    with pytest.raises(ConflictError):
        store.delete_route("shop", str(int(created.version) + 100))
    with pytest.raises(NotFoundError):
        store.delete_route("ghost", None)
    with pytest.raises(NotFoundError):
        store.delete_route("ghost", created.version)
    store.delete_route("shop", created.version)
    assert store.get_route("shop") is None
    with pytest.raises(NotFoundError):
        store.replace_route("shop", simple_spec(), {}, {}, None)
    store.close()


def test_a_version_that_is_not_a_number_never_matches(store: RouteStore) -> None:
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    for odd in ("W/1", "1 OR 1=1", "", "01"):
        with pytest.raises(ConflictError):
            store.put_route("shop", simple_spec(service="v2"), {}, {}, expected_version=odd)
    assert store.get_route("shop").spec == simple_spec()  # type: ignore[union-attr]
    store.close()


def test_the_store_id_is_a_uuid_that_stays(reopen: Opener) -> None:
    first = reopen()
    identity = first.ensure_store()
    assert str(uuid.UUID(identity)) == identity
    first.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    assert reopen().store_id == identity == first.store_id == first.ensure_store()


def test_write_routes_decides_each_write_in_one_transaction(store: RouteStore) -> None:
    kept = store.create_route("kept", simple_spec("kept.example.com"), LABELS, ANNOTATIONS)
    gone = store.create_route("gone", simple_spec("gone.example.com"), LABELS, ANNOTATIONS)
    spec = RouteSpec.from_dict(FULL_FEATURES)
    outcomes = store.write_routes(
        [
            RouteWrite("new", "create", spec, LABELS, ANNOTATIONS),
            RouteWrite("kept", "create", spec, LABELS, ANNOTATIONS),  # exists: refused alone
            RouteWrite("kept", "replace", spec, LABELS, {}, "999999"),  # stale version
            RouteWrite("kept", "replace", spec, LABELS, {}, kept.version),
            RouteWrite("gone", "delete", expected_version=gone.version),
            RouteWrite("gone", "delete"),  # deleted by the write before it
            RouteWrite("never", "replace", spec, LABELS, {}, None),
        ]
    )
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == [
        "StoredRoute",
        "ConflictError",
        "ConflictError",
        "StoredRoute",
        "NoneType",
        "NotFoundError",
        "NotFoundError",
    ]
    new, replaced = outcomes[0], outcomes[3]
    assert isinstance(new, StoredRoute) and isinstance(replaced, StoredRoute)
    assert store.get_route("new") == new  # what it answers is what a read gives back
    assert store.get_route("kept") == replaced and replaced.created_at == kept.created_at
    assert store.get_route("gone") is None and store.get_route("never") is None
    assert int(kept.version) < int(new.version) < int(replaced.version)
    later = store.create_route("later", simple_spec("later.example.com"), LABELS, ANNOTATIONS)
    assert int(later.version) > int(replaced.version)  # one counter, only growing
    assert store.write_routes([]) == []
    store.close()


def test_write_routes_keeps_each_routes_own_labels_and_annotations(store: RouteStore) -> None:
    # Most of a batch shares its labels; each route still reads back exactly its own.
    own = {**LABELS, "team": "a"}
    store.write_routes(
        [
            RouteWrite("one", "create", simple_spec("one.example.com"), LABELS, ANNOTATIONS),
            RouteWrite("two", "create", simple_spec("two.example.com"), own, {}),
            RouteWrite("three", "create", simple_spec("three.example.com"), dict(LABELS), {}),
            RouteWrite("four", "create", simple_spec("four.example.com"), own, ANNOTATIONS),
        ]
    )
    read = {name: store.get_route(name) for name in ("one", "two", "three", "four")}
    assert {name: (r.labels, r.annotations) for name, r in read.items() if r} == {
        "one": (LABELS, ANNOTATIONS),
        "two": (own, {}),
        "three": (LABELS, {}),
        "four": (own, ANNOTATIONS),
    }
    store.close()
