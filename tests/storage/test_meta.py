"""The metadata store and its migrations, on SQLite and on a real PostgreSQL 15."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

import timberyard.storage.alerts_store  # noqa: F401 - registers the alerting tables
from timberyard.storage import migrations
from timberyard.storage.meta import MetaStore, metadata

LATEST = [version for version, _, _ in migrations.MIGRATIONS]


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrate_from_an_empty_database(meta_url: str) -> None:
    store = MetaStore(meta_url)
    assert migrations.applied(store.engine) == []
    store.create()
    assert migrations.applied(store.engine) == LATEST
    assert set(metadata.tables) | {"schema_migrations"} <= tables(store.engine)
    assert migrations.migrate(store.engine, metadata) == []  # nothing left to do
    store.close()


def test_migrate_adopts_a_database_made_before_migrations(meta_url: str) -> None:
    engine = sa.create_engine(meta_url)
    metadata.create_all(engine)  # what MetaStore.create() did before there were migrations
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO organisations (id, name, plan, created_at) VALUES ('org_old', 'old', 'pro', 1)"))
    engine.dispose()
    store = MetaStore(meta_url)
    store.create()
    assert migrations.applied(store.engine) == LATEST
    assert store.get_organisation("org_old")["plan"] == "pro"  # type: ignore[index]
    store.close()


def test_a_later_migration_adds_a_column_once(meta_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MetaStore(meta_url)
    store.create()
    store.create_organisation("before")
    column = sa.Column("note", sa.String(50), nullable=False, server_default="none")
    step = lambda conn, md: migrations.add_column(conn, "organisations", column)  # noqa: E731
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (99, "organisation notes", step)])
    assert migrations.migrate(store.engine, metadata) == [99]
    assert migrations.migrate(store.engine, metadata) == []
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT note FROM organisations")).scalar_one() == "none"
    store.close()


def test_nodes_migrating_at_once_apply_each_migration_once(pg_url: str) -> None:
    stores = [MetaStore(pg_url) for _ in range(4)]  # one SQLite file is one node's: PostgreSQL only
    errors: list[BaseException] = []

    def start(store: MetaStore) -> None:
        try:
            store.create()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and migrations.applied(stores[0].engine) == LATEST
    for s in stores:
        s.close()


# (operation, arguments, check of the result)
CASES: list[tuple[str, dict[str, Any], Any]] = [
    ("organisation", {"name": "acme", "plan": "pro"}, lambda r: r["plan"] == "pro" and r["id"].startswith("org_")),
    ("project", {"name": "web", "allowed_origins": ["https://a.example"]},
     lambda r: r["allowed_origins"] == ["https://a.example"] and r["active"] is True),
    ("key", {"kind": "server"}, lambda r: r[1].startswith("sk_")),
]


def test_organisations_projects_keys_usage_round_trip(meta_url: str) -> None:
    store = MetaStore(meta_url)
    store.create()
    org = store.create_organisation("acme", "pro")
    assert CASES[0][2](org)
    project = store.create_project(org["id"], "web", allowed_origins=["https://a.example"])
    assert CASES[1][2](project)
    key, secret = store.create_key(project["id"], "server")
    assert CASES[2][2]((key, secret))
    info = store.lookup_key(secret)
    assert info is not None and info.org_id == org["id"] and info.project_active
    assert store.get_project(project["id"])["allowed_origins"] == ["https://a.example"]  # type: ignore[index]
    assert store.update_organisation(org["id"], monthly_quota=5)["monthly_quota"] == 5  # type: ignore[index]
    assert store.revoke_key(key["id"]) and store.lookup_key(secret) is None
    assert store.delete_project(project["id"]) and store.get_project(project["id"]) is None
    store.set_setting("a", "1")
    store.set_setting("a", "2")
    assert store.get_setting("a") == "2"
    token = store.ensure_admin_token()
    assert token and store.check_admin_token(token) and store.ensure_admin_token() is None
    store.add_usage(org["id"], "2026-12", 3, 0)
    store.add_usage(org["id"], "2026-12", 4, 1)
    assert store.get_usage(org["id"], "2026-12") == (7, 1)
    store.close()


def test_usage_added_by_several_nodes_at_once_is_exact(meta_url: str) -> None:
    stores = [MetaStore(meta_url) for _ in range(4)]
    stores[0].create()
    org = stores[0].create_organisation("o")["id"]

    def add(store: MetaStore) -> None:
        for _ in range(25):
            store.add_usage(org, "2026-12", 2, 1)

    threads = [threading.Thread(target=add, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stores[0].get_usage(org, "2026-12") == (200, 100)
    for s in stores:
        s.close()


def test_debounce_windows(meta_url: str) -> None:
    store = MetaStore(meta_url)
    store.create()
    assert store.debounce_hit("prj", "k", 1000) is None
    store.debounce_open("prj", "k", 42, 1000, 6000)
    assert store.debounce_hit("prj", "k", 2000) == (42, 6000, 2)
    assert store.debounce_hit("prj", "k", 6000) is None  # window over
    assert store.debounce_counts("prj", [42]) == [(42, 2, 2000)]
    assert store.debounce_projects() == {"prj"}
    store.debounce_cancel("prj", "k", 42)
    assert store.debounce_counts("prj", [42]) == []
    store.close()


def test_debounce_claim_opens_one_window_across_nodes(meta_url: str) -> None:
    stores = [MetaStore(meta_url) for _ in range(4)]
    stores[0].create()
    results: list[Any] = []
    lock = threading.Lock()

    def claim(store: MetaStore, n: int) -> None:
        for i in range(5):
            found = store.debounce_claim("prj", "k", 1000 + n * 10 + i, 1000, 60_000)
            with lock:
                results.append(found)

    threads = [threading.Thread(target=claim, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    opened = [r for r in results if r is None]
    assert len(opened) == 1 and len(results) == 20
    first_ids = {r[0] for r in results if r is not None}
    assert len(first_ids) == 1 and sorted(r[2] for r in results if r is not None) == list(range(2, 21))
    for s in stores:
        s.close()
