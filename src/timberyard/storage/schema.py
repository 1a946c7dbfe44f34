"""The ClickHouse schema of the entry store, as numbered migrations."""

from __future__ import annotations

from ..model import ERROR_SEVERITY

# Column name -> ClickHouse type, in table order. The query compiler reads
# this to know which columns exist and how to compare them.
COLUMNS: dict[str, str] = {
    "project_id": "LowCardinality(String)",
    "timestamp": "DateTime64(9)",
    "id": "UInt64",
    "received_at": "DateTime64(3)",
    "level": "LowCardinality(String)",
    "severity": "UInt8",
    "message": "String",
    "service": "LowCardinality(String)",
    "environment": "LowCardinality(String)",
    "dataset": "LowCardinality(String)",
    "host": "LowCardinality(String)",
    "instance_id": "LowCardinality(String)",
    "version": "LowCardinality(String)",
    "user_id": "String",
    "session_id": "String",
    "request_id": "String",
    "flow_id": "String",
    "trace_id": "String",
    "span_id": "String",
    "step_index": "Nullable(UInt16)",
    "error_name": "LowCardinality(String)",
    "error_stack": "String",
    "tags": "Array(LowCardinality(String))",
    "fields": "String",
    # Error group of error and fatal entries (alerts.fingerprint); empty otherwise.
    "fingerprint": "String",
}

_CODECS: dict[str, str] = {
    "timestamp": "CODEC(Delta, ZSTD(1))",
    "id": "CODEC(Delta, ZSTD(1))",
    "received_at": "CODEC(Delta, ZSTD(1))",
    "message": "CODEC(ZSTD(3))",
    "user_id": "CODEC(ZSTD(1))",
    "session_id": "CODEC(ZSTD(1))",
    "request_id": "CODEC(ZSTD(1))",
    "flow_id": "CODEC(ZSTD(1))",
    "trace_id": "CODEC(ZSTD(1))",
    "span_id": "CODEC(ZSTD(1))",
    "error_stack": "CODEC(ZSTD(3))",
    "fields": "CODEC(ZSTD(3))",
    "fingerprint": "CODEC(ZSTD(1))",
}

_INDEXES = [
    # Full-text index over lower-cased whole tokens of the message.
    "INDEX idx_message message TYPE text("
    "tokenizer = splitByNonAlpha, preprocessor = lower(message))",
    "INDEX idx_session session_id TYPE bloom_filter(0.001) GRANULARITY 1",
    "INDEX idx_request request_id TYPE bloom_filter(0.001) GRANULARITY 1",
    "INDEX idx_flow flow_id TYPE bloom_filter(0.001) GRANULARITY 1",
    "INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1",
    "INDEX idx_user user_id TYPE bloom_filter(0.001) GRANULARITY 1",
]


# Rows are inserted with integer instants in these EPHEMERAL columns, from which
# ClickHouse computes the DateTime64 columns (no date text to format or parse).
_EPHEMERAL = {"ts_ns": "Int64", "received_ms": "Int64"}
_DEFAULTS = {
    "timestamp": "DEFAULT fromUnixTimestamp64Nano(ts_ns)",
    "received_at": "DEFAULT fromUnixTimestamp64Milli(received_ms)",
}

# The columns a canonical row may carry, in the order of the INSERT.
INSERT_COLUMNS: list[str] = list(_EPHEMERAL) + [name for name in COLUMNS if name not in _DEFAULTS]

# The columns of a Native insert block: (column, type in the block, key of the canonical
# row). Strings go as plain String (ClickHouse builds the LowCardinality dictionaries),
# instants as the ticks the row already holds.
_NATIVE_TYPES = {
    "LowCardinality(String)": "String",
    "Array(LowCardinality(String))": "Array(String)",
}
_NATIVE_KEYS = {"timestamp": "ts_ns", "received_at": "received_ms"}
NATIVE_COLUMNS: list[tuple[str, str, str]] = [
    (name, _NATIVE_TYPES.get(kind, kind), _NATIVE_KEYS.get(name, name))
    for name, kind in COLUMNS.items()
]


def _columns(codecs: dict[str, str] | None = None) -> list[str]:
    codecs = {**_CODECS, **(codecs or {})}
    columns = [f"`{name}` {kind} EPHEMERAL" for name, kind in _EPHEMERAL.items()]
    columns += [
        " ".join(filter(None, (f"`{name}` {kind}", _DEFAULTS.get(name), codecs.get(name))))
        for name, kind in COLUMNS.items()
    ]
    return columns


def _create_logs(db: str) -> str:
    body = ",\n  ".join(_columns() + _INDEXES)
    return (
        f"CREATE TABLE IF NOT EXISTS `{db}`.logs (\n  {body}\n)\n"
        "ENGINE = MergeTree\n"
        "PARTITION BY toDate(timestamp)\n"
        "ORDER BY (project_id, timestamp, id)\n"
        # Retried batches carry the same deduplication token and are stored once.
        "SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192"
    )


# Per-minute counts by severity (schema 2), for histograms over long ranges.
_MINUTE_QUERY = (
    "(SELECT project_id, toStartOfMinute(timestamp), severity, count()"
    " GROUP BY project_id, toStartOfMinute(timestamp), severity)"
)


def _create_logs_v3(db: str, table: str, cluster: str | None = None) -> str:
    """Schema 3: each day partitioned again into errors and the rest.

    A query for errors (`level:error`, `level:>=error`, the error groups) then reads
    only the error parts, a few percent of the data, and finds them without an
    index: ClickHouse prunes parts by the partition key's min/max of `severity`.
    Within a part, rows stay ordered by (project, timestamp, id).

    `fields` is LZ4 from here on: a `fields.x` filter decompresses it for every row it
    reads, and LZ4 decompresses several times faster than ZSTD (`fields.service:api AND
    level:error` over 9 million entries: 77 ms, 100 ms with ZSTD). `message`, read only
    for the rows returned, is ZSTD(1); `id` drops Delta (ids are not in order within a
    part, so deltas only add entropy), and the text index bit-packs its posting lists.
    """
    codecs = {"fields": "CODEC(LZ4)", "message": "CODEC(ZSTD(1))", "id": "CODEC(ZSTD(1))"}
    text = _INDEXES[0].replace(
        "lower(message))", "lower(message), posting_list_codec = 'bitpacking')"
    )
    indexes = [text, *_INDEXES[1:]]
    body = ",\n  ".join([*_columns(codecs), *indexes, f"PROJECTION p_minute {_MINUTE_QUERY}"])
    if cluster:
        # One replication path per shard; every replica of it keeps the block ids of the
        # last 10000 inserts, so a retried batch (same deduplication token) is stored once.
        engine = f"ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{db}/{table}', '{{replica}}')"
        window = "replicated_deduplication_window = 10000"
    else:
        engine, window = "MergeTree", "non_replicated_deduplication_window = 10000"
    return (
        f"CREATE TABLE IF NOT EXISTS `{db}`.{table}{on_cluster(cluster)} (\n  {body}\n)\n"
        f"ENGINE = {engine}\n"
        f"PARTITION BY (toDate(timestamp), severity >= {ERROR_SEVERITY})\n"
        "ORDER BY (project_id, timestamp, id)\n"
        f"SETTINGS {window}, index_granularity = 8192,"
        # Merges wait for ten parts of a size rather than five: each row is rewritten
        # fewer times. Merging was the largest CPU cost of sustained ingestion.
        " merge_selector_base = 10,"
        " lightweight_mutation_projection_mode = 'rebuild',"
        " deduplicate_merge_projection_mode = 'rebuild'"
    )


def _copy_into_v3(db: str) -> str:
    names = ", ".join(f"`{name}`" for name in COLUMNS)
    return f"INSERT INTO `{db}`.logs_v3 ({names}) SELECT {names} FROM `{db}`.logs"


def _create_meta(db: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS `{db}`.schema_version "
        "(version UInt32, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
    )


# Each migration is a list of statements; index + 1 is the schema version it
# brings a database to. Append only: never edit a migration that has shipped.
MIGRATIONS: list[list] = [
    [_create_logs],
    # 2: per-minute counts by severity, so histograms over long ranges read
    # thousands of pre-aggregated rows instead of millions of entries.
    [
        lambda db: (
            f"ALTER TABLE `{db}`.logs MODIFY SETTING"
            " lightweight_mutation_projection_mode = 'rebuild',"
            " deduplicate_merge_projection_mode = 'rebuild'"
        ),
        lambda db: f"ALTER TABLE `{db}`.logs ADD PROJECTION IF NOT EXISTS p_minute {_MINUTE_QUERY}",
        lambda db: (
            f"ALTER TABLE `{db}`.logs MATERIALIZE PROJECTION p_minute SETTINGS mutations_sync = 2"
        ),
    ],
    # 3: errors in parts of their own (see _create_logs_v3); existing rows are copied.
    [
        lambda db: f"DROP TABLE IF EXISTS `{db}`.logs_v3",
        lambda db: _create_logs_v3(db, "logs_v3"),
        _copy_into_v3,
        lambda db: f"EXCHANGE TABLES `{db}`.logs AND `{db}`.logs_v3",
        lambda db: f"DROP TABLE `{db}`.logs_v3",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
BOOTSTRAP = _create_meta


# -- cluster mode ---------------------------------------------------------------


def on_cluster(cluster: str | None) -> str:
    """The ON CLUSTER clause of a DDL statement (empty on a single server)."""
    return f" ON CLUSTER `{cluster}`" if cluster else ""


def _create_meta_cluster(db: str, cluster: str) -> str:
    # One replication path for every host of the cluster (no {shard}): the version
    # recorded by one node is the version every node reads.
    return (
        f"CREATE TABLE IF NOT EXISTS `{db}`.schema_version{on_cluster(cluster)} "
        "(version UInt32, applied_at DateTime DEFAULT now()) ENGINE = "
        f"ReplicatedMergeTree('/clickhouse/tables/{db}/schema_version', '{{replica}}')"
        " ORDER BY version"
    )


def _create_distributed(db: str, cluster: str) -> str:
    """The Distributed table `logs` over every shard's `logs_local`.

    Sharded by a hash of the id, a deterministic key: a retried batch splits into
    the same per-shard blocks as the first attempt, so each shard's replicas
    recognise the block by its deduplication token. Columns as in the local table
    (the EPHEMERAL instants and their DEFAULTs too: the timestamp is computed on
    insert), without codecs, indexes or projections, which only local tables have.
    """
    columns = [
        " ".join(filter(None, (f"`{name}` {kind}", _DEFAULTS.get(name))))
        for name, kind in COLUMNS.items()
    ]
    columns = [f"`{name}` {kind} EPHEMERAL" for name, kind in _EPHEMERAL.items()] + columns
    body = ",\n  ".join(columns)
    return (
        f"CREATE TABLE IF NOT EXISTS `{db}`.logs{on_cluster(cluster)} (\n  {body}\n)\n"
        f"ENGINE = Distributed(`{cluster}`, `{db}`, logs_local, sipHash64(id))"
    )


# Cluster mode is younger than schema 3: its first migration creates the schema-3
# layout directly, and versions 2 and 3 have nothing left to do. A later migration
# is appended to both lists, here with its ON CLUSTER form.
CLUSTER_MIGRATIONS: list[list] = [
    [
        lambda db, cluster: _create_logs_v3(db, "logs_local", cluster),
        _create_distributed,
    ],
    [],
    [],
]


def migrations(cluster: str | None = None) -> list[list]:
    """The migrations of a single server (cluster None) or of a cluster."""
    return CLUSTER_MIGRATIONS if cluster else MIGRATIONS


def bootstrap(db: str, cluster: str | None = None) -> str:
    """The statement that creates the schema_version table."""
    return _create_meta_cluster(db, cluster) if cluster else _create_meta(db)


def statements(version: int, db: str, cluster: str | None = None) -> list[str]:
    """The SQL of one migration (bringing a database to `version`) for a database."""
    out = []
    for statement in migrations(cluster)[version - 1]:
        if not callable(statement):
            out.append(statement)
        elif cluster:
            out.append(statement(db, cluster))
        else:
            out.append(statement(db))
    return out


def ddl(db: str, cluster: str | None = None) -> list[str]:
    """Every statement that brings an empty database to the current schema, in order."""
    create_db = f"CREATE DATABASE IF NOT EXISTS `{db}`{on_cluster(cluster)}"
    out = [create_db, bootstrap(db, cluster)]
    for version in range(1, len(migrations(cluster)) + 1):
        out += statements(version, db, cluster)
    return out
