"""The DDL of the entry store, single server and cluster, pinned as golden files.

Regenerate after an intended change: TIMBERYARD_REGEN_GOLDEN=1 pytest tests/storage
(then read the diff). Every statement is also parsed by ClickHouse's own parser
(chDB's formatQuery), since no cluster can run here to execute them.
"""

from __future__ import annotations

import os
from pathlib import Path

import clickhouse_connect
import pytest

from timberyard.storage import schema

GOLDEN = Path(__file__).parent / "golden"
MODES = [("single.sql", None), ("cluster.sql", "logs_cluster")]


def rendered(cluster: str | None) -> str:
    return ";\n\n".join(schema.ddl("timberyard", cluster)) + ";\n"


@pytest.mark.parametrize(("name", "cluster"), MODES)
def test_ddl_matches_golden(name: str, cluster: str | None) -> None:
    path = GOLDEN / name
    if os.environ.get("TIMBERYARD_REGEN_GOLDEN"):
        path.write_text(rendered(cluster))
    assert rendered(cluster) == path.read_text(), f"regenerate {path} if the change is intended"


@pytest.mark.parametrize(("name", "cluster"), MODES)
def test_every_statement_parses(chdb_path: Path, name: str, cluster: str | None) -> None:
    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    for statement in schema.ddl("timberyard", cluster):
        formatted = client.query("SELECT formatQuery({s:String})", parameters={"s": statement})
        assert formatted.result_rows[0][0], statement


def test_cluster_shape() -> None:
    statements = schema.ddl("timberyard", "logs_cluster")
    assert all(" ON CLUSTER `logs_cluster`" in s for s in statements if not s.startswith("INSERT"))
    local = next(s for s in statements if ".logs_local" in s.split("(")[0])
    assert (
        "ReplicatedMergeTree('/clickhouse/tables/{shard}/timberyard/logs_local', '{replica}')"
        in local
    )
    assert "replicated_deduplication_window = 10000" in local
    assert "non_replicated" not in "\n".join(statements)
    distributed = statements[-1]
    assert (
        "ENGINE = Distributed(`logs_cluster`, `timberyard`, logs_local, sipHash64(id))"
        in distributed
    )
    # Cluster and single server reach the same version number.
    assert (
        len(schema.migrations("logs_cluster"))
        == len(schema.migrations(None))
        == schema.SCHEMA_VERSION
    )


def test_single_server_ddl_is_the_migrations() -> None:
    """Single-server mode is exactly MIGRATIONS: nothing changed for existing databases."""
    expected = ["CREATE DATABASE IF NOT EXISTS `db`", schema.BOOTSTRAP("db")]
    for migration in schema.MIGRATIONS:
        expected += [s("db") if callable(s) else s for s in migration]
    assert schema.ddl("db") == expected
