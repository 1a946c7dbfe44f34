"""The entry store: ClickHouse through clickhouse-connect, embedded (chDB) or a server."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import clickhouse_connect

from . import schema
from .errors import StoreError, StoreInternal, StoreRejected, StoreUnavailable, translate
from .filters import PUBLIC_PARAMETERS
from .reads import EntryReads

__all__ = [
    "EntryStore",
    "StoreError",
    "StoreInternal",
    "StoreRejected",
    "StoreUnavailable",
    "database_of",
    "storage_dsn",
]

log = logging.getLogger(__name__)

# Embedded chDB allows one data path per process; every EntryStore of the
# process shares one client per path.
_CHDB_CLIENTS: dict[str, Any] = {}
_CHDB_LOCK = threading.Lock()
# Cluster names are written into DDL (ON CLUSTER, Distributed, cluster()).
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def storage_dsn(storage: str | None, data_dir: Path) -> str:
    """The clickhouse-connect DSN for a `--storage` value (None: embedded in the data folder)."""
    if not storage:
        return f"chdb://{(data_dir / 'clickhouse').resolve()}"
    if storage.startswith("clickhouse://"):
        parts = urlparse(storage)
        port = parts.port or 8123
        netloc = parts.netloc.rsplit("@", 1)
        host = netloc[-1].split(":")[0]
        auth = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunparse(("http", f"{auth}{host}:{port}", parts.path, "", parts.query, ""))
    return storage


def database_of(dsn: str, default: str) -> str:
    """The database named in a server DSN's path, or the default."""
    if dsn.startswith("chdb://"):
        return default
    path = urlparse(dsn).path.strip("/")
    return path or default


class EntryStore(EntryReads):
    """Reads and writes log entries in one ClickHouse database (or cluster: `cluster`
    names it; entries then live in replicated local tables behind a Distributed one)."""

    def __init__(self, dsn: str, database: str, cluster: str | None = None) -> None:
        self.dsn = dsn
        self.database = database
        self.embedded = dsn.startswith("chdb://")
        if cluster and self.embedded:
            raise ValueError(
                f"cluster {cluster!r} needs a ClickHouse server: pass --storage http://host:8123/db"
            )
        if cluster and not _NAME.fullmatch(cluster):
            raise ValueError(
                f"invalid cluster name {cluster!r}: use letters, digits, '_', '-' and '.'"
            )
        self.cluster = cluster or None
        self._client: Any = None

    @property
    def table(self) -> str:
        """The table entries are inserted into and read from."""
        return f"`{self.database}`.logs"

    def mutation_target(self) -> str:
        """The table (and ON CLUSTER clause) that partition drops and deletes address."""
        if self.cluster:
            return f"`{self.database}`.logs_local{schema.on_cluster(self.cluster)}"
        return self.table

    def partition_source(self) -> str:
        """Where `_partition_id` of the stored rows can be read (one replica per shard)."""
        if self.cluster:
            return f"cluster('{self.cluster}', '{self.database}', 'logs_local')"
        return self.table

    def open(self) -> None:
        """Connect and bring the schema to the current version."""
        client = self._connect()
        self._client = client
        try:
            self.migrate()
        except StoreUnavailable:
            self._client = None
            raise
        except Exception as exc:
            self._client = None
            raise StoreUnavailable(f"cannot prepare the schema in {self.dsn}: {exc}") from exc

    def is_open(self) -> bool:
        """Whether the store has been reached and its schema is current."""
        return self._client is not None

    def ensure_open(self) -> None:
        """Open on first use after a start-up during which the store was unreachable."""
        if self._client is None:
            self.open()

    def _connect(self) -> Any:
        try:
            if self.embedded:
                path = self.dsn[len("chdb://") :]
                Path(path).mkdir(parents=True, exist_ok=True)
                with _CHDB_LOCK:
                    if _CHDB_CLIENTS and path not in _CHDB_CLIENTS:
                        other = next(iter(_CHDB_CLIENTS))
                        raise StoreUnavailable(
                            f"embedded ClickHouse is already open at {other!r} in this process;"
                            " chDB allows one data path per process (use another database name)"
                        )
                    if path not in _CHDB_CLIENTS:
                        _CHDB_CLIENTS[path] = clickhouse_connect.get_client(dsn=self.dsn)
                    return _CHDB_CLIENTS[path]
            parts = urlparse(self.dsn)
            return clickhouse_connect.get_client(
                host=parts.hostname or "localhost",
                port=parts.port or 8123,
                username=parts.username or "default",
                password=parts.password or "",
                secure=parts.scheme == "https",
                connect_timeout=5,
                send_receive_timeout=60,
                # Threads share this client: one HTTP session would refuse concurrent
                # queries (SESSION_IS_LOCKED), and behind a load balancer in front of a
                # cluster a session would pin every query to one node.
                autogenerate_session_id=False,
            )
        except StoreUnavailable:
            raise
        except Exception as exc:  # driver and network errors alike
            raise StoreUnavailable(f"cannot connect to ClickHouse at {self.dsn}: {exc}") from exc

    def migrate(self) -> int:
        """Apply the migrations this database has not seen; returns the version."""
        client = self._client
        db, cluster = self.database, self.cluster
        client.command(f"CREATE DATABASE IF NOT EXISTS `{db}`{schema.on_cluster(cluster)}")
        client.command(schema.bootstrap(db, cluster))
        rows = client.query(f"SELECT max(version) FROM `{db}`.schema_version").result_rows
        current = int(rows[0][0] or 0) if rows else 0
        migrations = schema.migrations(cluster)
        for version in range(current + 1, len(migrations) + 1):
            for sql in schema.statements(version, db, cluster):
                client.command(sql)
            client.command(f"INSERT INTO `{db}`.schema_version (version) VALUES ({int(version)})")
            log.info("entry store %s migrated to schema version %d", db, version)
        return max(current, len(migrations))

    def insert_rows(
        self, data: bytes | Iterable[bytes], token: str, fmt: str = "JSONEachRow"
    ) -> None:
        """Insert canonical rows, whole or in chunks: Native blocks of
        schema.NATIVE_COLUMNS, or JSONEachRow lines. A retry with the same token
        stores nothing twice."""
        self.ensure_open()
        if not isinstance(data, bytes) and not self.embedded:
            # The HTTP client may resend a body; an iterator could be sent only once.
            data = b"".join(data)
        settings: dict[str, Any] = {"insert_deduplication_token": token}
        if self.cluster:
            # Through the Distributed table, synchronously: the insert returns once every
            # shard's replica has the rows (a 200 means durable), and the token reaches
            # each shard's ReplicatedMergeTree, which deduplicates a retried block by it.
            settings["insert_distributed_sync"] = 1
        if fmt == "Native":
            columns = [name for name, _, _ in schema.NATIVE_COLUMNS]
            # Strings arrive as String; ClickHouse makes the LowCardinality columns.
            settings["input_format_native_allow_types_conversion"] = 1
        else:
            columns = schema.INSERT_COLUMNS
            settings["input_format_skip_unknown_fields"] = 1
        try:
            self._client.raw_insert(
                self.table, column_names=columns, insert_block=data, fmt=fmt, settings=settings
            )
        except Exception as exc:  # driver, network and chDB runtime errors alike
            # Every failed insert is retried from the WAL: the rows are ours, so a refusal
            # is a bug or an outage, never the client's; the pipeline backs off either way.
            raise StoreUnavailable(str(exc)) from exc

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict | None = None
    ) -> Sequence[Sequence[Any]]:
        """Rows of a SELECT with bound parameters."""
        self.ensure_open()
        try:
            result = self._client.query(sql, parameters=parameters or {}, settings=settings)
        except Exception as exc:
            raise translate(exc, PUBLIC_PARAMETERS) from exc
        return result.result_rows

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        """Run a statement that returns no rows."""
        self.ensure_open()
        try:
            return self._client.command(sql, parameters=parameters or {})
        except Exception as exc:
            raise translate(exc, PUBLIC_PARAMETERS) from exc

    def stats(self) -> dict[str, int]:
        """Rows and bytes of the entry table's active parts."""
        rows = self.query(
            "SELECT sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes), count()"
            f" FROM {self._parts()} WHERE database = {{db:String}} AND table = {{t:String}}"
            " AND active",
            {"db": self.database, "t": "logs_local" if self.cluster else "logs"},
        )
        count, on_disk, uncompressed, parts = (int(v or 0) for v in rows[0])
        return {
            "rows": count,
            "bytesOnDisk": on_disk,
            "uncompressedBytes": uncompressed,
            "parts": parts,
        }

    def memory(self) -> dict[str, int]:
        """Bytes of memory ClickHouse accounts for: all it tracks, and its caches within that.

        Embedded, this is the part of the process's RSS that belongs to the store; on a
        server, that server's. Keys: `tracked`, `mark_cache`, `uncompressed_cache`,
        `primary_index`, `query_cache`.
        """
        names = {
            "MemoryTracking": "tracked",
            "MarkCacheBytes": "mark_cache",
            "UncompressedCacheBytes": "uncompressed_cache",
            "PrimaryIndexCacheBytes": "primary_index",
            "QueryCacheBytes": "query_cache",
        }
        rows = self.query(
            "SELECT metric, value FROM system.metrics WHERE metric IN {names:Array(String)}",
            {"names": list(names)},
        )
        out = dict.fromkeys(names.values(), 0)
        for metric, value in rows:
            out[names[metric]] = max(int(value), 0)
        return out

    def _parts(self) -> str:
        return f"cluster('{self.cluster}', system.parts)" if self.cluster else "system.parts"

    def optimize(self) -> None:
        """Merge all parts now (benchmarks; ClickHouse merges in the background anyway)."""
        self.command(f"OPTIMIZE TABLE {self.mutation_target()} FINAL")

    def drop_database(self) -> None:
        """Remove every table of this database (tests and uninstall)."""
        on = schema.on_cluster(self.cluster)
        self._client.command(f"DROP DATABASE IF EXISTS `{self.database}`{on}")

    def close(self) -> None:
        """Release the connection (the embedded client stays for the process)."""
        if not self.embedded and self._client is not None:
            self._client.close()
        self._client = None
