"""The PostgreSQL store: what the contract cannot see (migrations, connections, errors).

Every test runs on a database of its own in the throwaway cluster of ``tests/pg_cluster.py``.
"""

from __future__ import annotations

import json
import threading

import psycopg
import pytest

from reconciler.errors import BackendError, TransientBackendError, UsageError
from reconciler.store import RouteWrite, pg_sql
from reconciler.store.postgres import PostgresStore
from tests.backends.contract import ANNOTATIONS, LABELS, simple_spec
from tests.pg_cluster import Cluster


def sql(url: str, statement: str) -> list[tuple[object, ...]]:
    """Run one statement as the admin, behind the store's back."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def test_the_first_open_creates_the_schema_and_later_ones_leave_it(pg_url: str) -> None:
    first = PostgresStore(pg_url)
    first.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    first.close()
    second = PostgresStore(pg_url)
    assert [route.name for route in second.list_routes()] == ["shop"]
    second.close()
    assert sql(pg_url, "SELECT version FROM schema_version") == [(1,)]
    tables = sql(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert {t[0] for t in tables} == {"schema_version", "meta", "routes", "hostnames"}


def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    start = threading.Barrier(4)
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def replica() -> None:
        start.wait()
        try:
            stores.append(PostgresStore(pg_url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len({store.store_id for store in stores}) == 1
    assert sql(pg_url, "SELECT version FROM schema_version") == [(1,)]
    for store in stores:
        store.close()


def test_an_older_store_is_upgraded_step_by_step(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = PostgresStore(pg_url)
    created = old.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    old.close()
    step = ("CREATE INDEX routes_by_update ON routes (updated_at)",)
    monkeypatch.setattr(pg_sql, "MIGRATIONS", (*pg_sql.MIGRATIONS, step))
    upgraded = PostgresStore(pg_url)
    assert upgraded.get_route("shop") == created
    upgraded.close()
    assert sql(pg_url, "SELECT version FROM schema_version ORDER BY version") == [(1,), (2,)]
    assert sql(pg_url, "SELECT 1 FROM pg_indexes WHERE indexname = 'routes_by_update'")


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    sql(pg_url, "INSERT INTO schema_version VALUES (99)")
    with pytest.raises(BackendError, match="newer routes") as caught:
        PostgresStore(pg_url)
    assert caught.value.hint and "upgrade" in caught.value.hint


def test_tables_of_another_application_are_refused(pg_url: str) -> None:
    sql(pg_url, "CREATE TABLE routes (id INTEGER)")
    with pytest.raises(BackendError, match="not a routes store") as caught:
        PostgresStore(pg_url)
    assert caught.value.hint and "search_path" in caught.value.hint


def test_no_message_shows_the_password(pg_cluster: Cluster, pg_url: str) -> None:
    store = PostgresStore(pg_url)
    assert pg_cluster.password not in store.location
    assert store.location == pg_cluster.url(pg_url.rsplit("/", 1)[1], with_password=False)
    store.close()
    wrong = pg_url.replace(pg_cluster.password, "not-the-password")
    with pytest.raises(BackendError) as caught:
        PostgresStore(wrong)
    assert "password authentication failed" in caught.value.message
    assert "not-the-password" not in caught.value.message
    malformed = f"postgresql://routes:{pg_cluster.password}@127.0.0.1:5432/db?nosuch=1"
    with pytest.raises(UsageError) as refused:
        PostgresStore(malformed)
    assert pg_cluster.password not in refused.value.message + str(refused.value.hint)


def test_a_database_that_is_down_is_a_transient_error(pg_cluster: Cluster) -> None:
    with pytest.raises(TransientBackendError) as caught:
        PostgresStore(pg_cluster.url().replace(f":{pg_cluster.port}/", ":1/"))
    assert "127.0.0.1:1/postgres" in caught.value.message
    assert pg_cluster.password not in caught.value.message


def test_a_connection_the_database_dropped_is_transient_then_replaced(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    dbname = pg_url.rsplit("/", 1)[1]
    killed = sql(
        pg_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{dbname}' AND pid <> pg_backend_pid()",
    )
    assert killed, "the store holds a pooled connection"
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(store.get_route("shop") is not None)
        except TransientBackendError as exc:
            assert "route store" in exc.message
            outcomes.append(False)
    assert outcomes[-1], outcomes  # the pool replaced the dead connection
    store.close()


def test_a_read_only_database_says_to_use_the_primary(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    dbname = pg_url.rsplit("/", 1)[1]
    sql(pg_url, f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
    standby = PostgresStore(pg_url)
    assert standby.list_routes() == []
    with pytest.raises(BackendError, match="read-only") as caught:
        standby.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    assert not isinstance(caught.value, TransientBackendError)
    assert caught.value.hint and "primary" in caught.value.hint
    standby.close()


def test_a_hand_edited_row_is_unreadable_with_its_code(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.create_route("shop", simple_spec(), LABELS, ANNOTATIONS)
    spec = {"host": "shop.example.com", "routes": [{"prefix": "/", "route": {"service": 5}}]}
    sql(pg_url, f"UPDATE routes SET spec = '{json.dumps(spec)}' WHERE name = 'shop'")
    for read in (store.list_routes, lambda: store.get_route("shop")):
        with pytest.raises(BackendError) as caught:
            read()
        assert f"route 'shop' in {store.location} is unreadable (spec refused: R015" in (
            caught.value.message
        )
    store.close()


def test_the_url_settings_win_over_the_store_defaults() -> None:
    assert pg_sql.connect_kwargs("postgresql://db.internal/routes") == {
        "connect_timeout": pg_sql.CONNECT_TIMEOUT,
        "application_name": "routes",
    }
    chosen = "postgresql://db.internal/routes?connect_timeout=3&application_name=edge"
    assert pg_sql.connect_kwargs(chosen) == {}
    assert pg_sql.location_of("postgresql://u:pw@/routes?host=/run/pg") == (
        "postgresql://u@/routes?host=/run/pg"
    )


def test_a_failing_write_rolls_its_whole_batch_back(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    sql(
        pg_url,
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$",
    )
    sql(
        pg_url,
        "CREATE TRIGGER boom BEFORE INSERT ON routes FOR EACH ROW"
        " WHEN (NEW.name = 'boom') EXECUTE FUNCTION refuse_boom()",
    )
    writes = [
        RouteWrite("first", "create", simple_spec("first.example.com"), LABELS, ANNOTATIONS),
        RouteWrite("boom", "create", simple_spec("boom.example.com"), LABELS, ANNOTATIONS),
    ]
    with pytest.raises(BackendError, match="disk on fire"):
        store.write_routes(writes)
    assert store.get_route("first") is None
    assert [type(o).__name__ for o in store.write_routes(writes[:1])] == ["StoredRoute"]
    store.close()
