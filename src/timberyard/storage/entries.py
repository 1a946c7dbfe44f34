"""The entry store: ClickHouse through clickhouse-connect, embedded (chDB) or a server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from . import schema

log = logging.getLogger(__name__)

# Embedded chDB allows one data path per process; every EntryStore of the
# process shares one client per path.
_CHDB_CLIENTS: dict[str, Any] = {}
_CHDB_LOCK = threading.Lock()


class StoreUnavailable(Exception):
    """The entry store cannot be reached or refused the request."""


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


class EntryStore:
    """Reads and writes log entries in one ClickHouse database."""

    def __init__(self, dsn: str, database: str) -> None:
        self.dsn = dsn
        self.database = database
        self.embedded = dsn.startswith("chdb://")
        self._client: Any = None

    @property
    def table(self) -> str:
        return f"`{self.database}`.logs"

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
            )
        except StoreUnavailable:
            raise
        except Exception as exc:  # driver and network errors alike
            raise StoreUnavailable(f"cannot connect to ClickHouse at {self.dsn}: {exc}") from exc

    def migrate(self) -> int:
        """Apply the migrations this database has not seen; returns the version."""
        client = self._client
        client.command(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        client.command(schema.BOOTSTRAP(self.database))
        rows = client.query(
            f"SELECT max(version) FROM `{self.database}`.schema_version"
        ).result_rows
        current = int(rows[0][0] or 0) if rows else 0
        for version in range(current + 1, schema.SCHEMA_VERSION + 1):
            for statement in schema.MIGRATIONS[version - 1]:
                sql = statement(self.database) if callable(statement) else statement
                client.command(sql)
            client.command(
                f"INSERT INTO `{self.database}`.schema_version (version) VALUES ({int(version)})"
            )
            log.info("entry store %s migrated to schema version %d", self.database, version)
        return max(current, schema.SCHEMA_VERSION)

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
        except (ClickHouseError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        except Exception as exc:  # chDB raises its own runtime errors
            raise StoreUnavailable(str(exc)) from exc

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict | None = None
    ) -> Sequence[Sequence[Any]]:
        """Rows of a SELECT with bound parameters."""
        self.ensure_open()
        try:
            result = self._client.query(sql, parameters=parameters or {}, settings=settings)
        except (ClickHouseError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        return result.result_rows

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        """Run a statement that returns no rows."""
        return self._client.command(sql, parameters=parameters or {})

    def stats(self) -> dict[str, int]:
        """Rows and bytes of the entry table's active parts."""
        rows = self.query(
            "SELECT sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes), count()"
            " FROM system.parts WHERE database = {db:String} AND table = 'logs' AND active",
            {"db": self.database},
        )
        count, on_disk, uncompressed, parts = (int(v or 0) for v in rows[0])
        return {
            "rows": count,
            "bytesOnDisk": on_disk,
            "uncompressedBytes": uncompressed,
            "parts": parts,
        }

    def optimize(self) -> None:
        """Merge all parts now (benchmarks; ClickHouse merges in the background anyway)."""
        self.command(f"OPTIMIZE TABLE {self.table} FINAL")

    def drop_database(self) -> None:
        """Remove every table of this database (tests and uninstall)."""
        self._client.command(f"DROP DATABASE IF EXISTS `{self.database}`")

    def close(self) -> None:
        """Release the connection (the embedded client stays for the process)."""
        if not self.embedded and self._client is not None:
            self._client.close()
        self._client = None
