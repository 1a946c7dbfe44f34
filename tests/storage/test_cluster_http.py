"""The HTTP code path to a ClickHouse server or cluster, against a recording stand-in.

No ClickHouse server can run here (see tests/storage/fake_clickhouse.py): these tests
check what clickhouse-connect sends for migrations, inserts and retention in both
modes (statements, settings, deduplication tokens, bodies), and how HTTP errors are
classified. Whether a real cluster then behaves as intended was not run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from timberyard.cli.serve_cmds import _settings
from timberyard.settings import Settings
from timberyard.storage import schema
from timberyard.storage.entries import EntryStore, StoreInternal, StoreRejected, StoreUnavailable
from timberyard.storage.filters import EntryFilter

sys.path.insert(0, str(Path(__file__).parent))
from fake_clickhouse import FakeClickHouse  # noqa: E402

DB = "tydb"
CLUSTER = "logs_cluster"
ROWS = b'{"project_id":"p1","ts_ns":1,"received_ms":1,"id":1,"message":"m"}\n'


@pytest.fixture
def fake(chdb_path: Path) -> Iterator[FakeClickHouse]:
    server = FakeClickHouse(clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}"))
    yield server
    server.close()


def open_store(fake: FakeClickHouse, cluster: str | None) -> EntryStore:
    store = EntryStore(f"http://127.0.0.1:{fake.port}/{DB}", DB, cluster)
    store.open()
    return store


def ddl_sent(fake: FakeClickHouse) -> list[str]:
    """What was sent, less the version bookkeeping (its read and its rows)."""
    return [
        s
        for s in fake.statements
        if not s.startswith(
            (f"SELECT max(version) FROM `{DB}`", f"INSERT INTO `{DB}`.schema_version")
        )
    ]


@pytest.mark.parametrize("cluster", [None, CLUSTER])
def test_migrations_send_the_golden_ddl(fake: FakeClickHouse, cluster: str | None) -> None:
    store = open_store(fake, cluster)
    assert ddl_sent(fake) == schema.ddl(DB, cluster)
    assert fake.versions == list(range(1, schema.SCHEMA_VERSION + 1))
    # A second node (or a restart) finds the version and applies nothing again.
    fake.requests.clear()
    store.close()
    open_store(fake, cluster)
    assert ddl_sent(fake) == schema.ddl(DB, cluster)[:2]  # the database and schema_version
    assert fake.versions == list(range(1, schema.SCHEMA_VERSION + 1))


def test_an_older_database_gets_only_the_missing_migrations(fake: FakeClickHouse) -> None:
    fake.versions = [1]
    open_store(fake, None)
    expected = schema.ddl(DB)[:2] + schema.statements(2, DB) + schema.statements(3, DB)
    assert ddl_sent(fake) == expected
    assert fake.versions == [1, 2, 3]


@pytest.mark.parametrize(("cluster", "distributed_sync"), [(None, None), (CLUSTER, "1")])
def test_inserts_carry_the_deduplication_token(
    fake: FakeClickHouse, cluster: str | None, distributed_sync: str | None
) -> None:
    store = open_store(fake, cluster)
    store.insert_rows(ROWS, token="batch-42")
    store.insert_rows(iter([ROWS[:10], ROWS[10:]]), token="batch-42")  # the retry of a batch
    inserts = [r for r in fake.requests if r.sql.startswith(f"INSERT INTO `{DB}`.logs ")]
    assert len(inserts) == 2
    for request in inserts:
        assert request.sql.endswith("FORMAT JSONEachRow")
        assert request.params["insert_deduplication_token"] == "batch-42"
        assert request.params.get("insert_distributed_sync") == distributed_sync
        assert request.body == ROWS
        assert "session_id" not in request.params  # threads share the client


def test_native_inserts_through_the_distributed_table(fake: FakeClickHouse) -> None:
    store = open_store(fake, CLUSTER)
    store.insert_rows(b"\x00\x00", token="t-native", fmt="Native")
    request = fake.requests[-1]
    assert request.sql.startswith(f"INSERT INTO `{DB}`.logs (") and request.sql.endswith(
        "FORMAT Native"
    )
    assert request.params["insert_distributed_sync"] == "1"
    assert request.params["input_format_native_allow_types_conversion"] == "1"
    assert request.params["insert_deduplication_token"] == "t-native"


def test_cluster_retention_addresses_the_local_tables(fake: FakeClickHouse) -> None:
    store = open_store(fake, CLUSTER)
    fake.requests.clear()
    assert store.partitions() == []
    store.drop_partition("20260101-1")
    store.delete_project("p9")
    sent = [(r.sql, r.params.get("param_p")) for r in fake.requests]
    on = f"`{DB}`.logs_local ON CLUSTER `{CLUSTER}`"
    assert sent == [
        (
            f"SELECT _partition_id, project_id, toUnixTimestamp64Milli(max(received_at)) FROM"
            f" cluster('{CLUSTER}', '{DB}', 'logs_local') GROUP BY _partition_id, project_id"
            "\n FORMAT Native",
            None,
        ),
        (f"ALTER TABLE {on} DROP PARTITION ID {{p:String}}", "20260101-1"),
        (f"DELETE FROM {on} WHERE project_id = {{p:String}}", "p9"),
    ]


# (ClickHouse's answer to a read, the class the store raises)
HTTP_ERRORS = [
    (
        500,
        "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)",
        StoreUnavailable,
    ),
    (500, "Code: 252. DB::Exception: Too many parts (3000). (TOO_MANY_PARTS)", StoreUnavailable),
    (
        400,
        "Code: 457. DB::Exception: Value -1 cannot be parsed as UInt64 for query parameter"
        " '_cid' because it isn't parsed completely. (BAD_QUERY_PARAMETER)",
        StoreRejected,
    ),
    (
        400,
        "Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR)",
        StoreInternal,
    ),
    (502, "<html>Bad Gateway</html>", StoreUnavailable),  # a proxy in front of the cluster
    (504, "Gateway Timeout", StoreUnavailable),
    (404, "Not Found", StoreInternal),
]


@pytest.mark.parametrize(("status", "text", "kind"), HTTP_ERRORS)
def test_http_errors_are_classified(
    fake: FakeClickHouse, status: int, text: str, kind: type
) -> None:
    store = open_store(fake, CLUSTER)
    fake.failures["SELECT count()"] = (status, text)
    with pytest.raises(kind) as caught:
        store.count(EntryFilter("p1"))
    if kind is StoreRejected:
        assert caught.value.parameter == "cursor"


def test_unreachable_server_is_unavailable(fake: FakeClickHouse) -> None:
    store = open_store(fake, CLUSTER)
    fake.close()
    with pytest.raises(StoreUnavailable):
        store.count(EntryFilter("p1"))
    with pytest.raises(StoreUnavailable):
        store.insert_rows(ROWS, token="t")


async def test_app_in_cluster_mode_retries_a_batch_with_its_token(
    make_harness: Any, fake: FakeClickHouse
) -> None:
    """Through the whole app: a 200, an insert ClickHouse refuses (too many parts), the
    pipeline's retry with the same token and the same block, into the Distributed table."""
    fake.fail_once[f"INSERT INTO `{DB}`.logs "] = (
        500,
        "Code: 252. DB::Exception: Too many parts (3000). (TOO_MANY_PARTS)",
    )
    storage = f"http://127.0.0.1:{fake.port}/{DB}"
    async with make_harness(storage=storage, cluster=CLUSTER) as h:
        assert h.services.store.cluster == CLUSTER
        logs = [{"message": "first"}, {"message": "second", "level": "error"}]
        r = await h.client.post("/v1/logs", json={"logs": logs}, headers=h.auth())
        assert r.status_code == 200 and r.json()["accepted"] == 2
        await h.flushed()
    inserts = [r for r in fake.requests if r.sql.startswith(f"INSERT INTO `{DB}`.logs ")]
    assert len(inserts) == 2, [r.sql[:60] for r in fake.requests]
    first, retry = inserts
    assert first.params["insert_deduplication_token"] == retry.params["insert_deduplication_token"]
    assert first.body == retry.body and b"second" in retry.body
    assert first.params["insert_distributed_sync"] == retry.params["insert_distributed_sync"] == "1"
    assert ddl_sent(fake)[: len(schema.ddl(DB, CLUSTER))] == schema.ddl(DB, CLUSTER)


def test_cluster_setting_and_flag() -> None:
    args = argparse.Namespace(storage="http://ch:8123/logs", cluster="prod")
    settings = _settings(args)
    assert (settings.storage, settings.cluster) == ("http://ch:8123/logs", "prod")
    assert Settings.from_env(environ={"TIMBERYARD_CLUSTER": "c1"}).cluster == "c1"
    assert Settings.from_env(environ={}).cluster is None


@pytest.mark.parametrize(
    ("dsn", "cluster", "message"),
    [
        ("chdb:///tmp/x", "prod", "needs a ClickHouse server"),
        ("http://ch:8123/db", "prod`; DROP", "invalid cluster name"),
    ],
)
def test_bad_cluster_configuration(dsn: str, cluster: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EntryStore(dsn, "db", cluster)
