CREATE DATABASE IF NOT EXISTS `timberyard` ON CLUSTER `logs_cluster`;

CREATE TABLE IF NOT EXISTS `timberyard`.schema_version ON CLUSTER `logs_cluster` (version UInt32, applied_at DateTime DEFAULT now()) ENGINE = ReplicatedMergeTree('/clickhouse/tables/timberyard/schema_version', '{replica}') ORDER BY version;

CREATE TABLE IF NOT EXISTS `timberyard`.logs_local ON CLUSTER `logs_cluster` (
  `ts_ns` Int64 EPHEMERAL,
  `received_ms` Int64 EPHEMERAL,
  `project_id` LowCardinality(String),
  `timestamp` DateTime64(9) DEFAULT fromUnixTimestamp64Nano(ts_ns) CODEC(Delta, ZSTD(1)),
  `id` UInt64 CODEC(ZSTD(1)),
  `received_at` DateTime64(3) DEFAULT fromUnixTimestamp64Milli(received_ms) CODEC(Delta, ZSTD(1)),
  `level` LowCardinality(String),
  `severity` UInt8,
  `message` String CODEC(ZSTD(1)),
  `service` LowCardinality(String),
  `environment` LowCardinality(String),
  `dataset` LowCardinality(String),
  `host` LowCardinality(String),
  `instance_id` LowCardinality(String),
  `version` LowCardinality(String),
  `user_id` String CODEC(ZSTD(1)),
  `session_id` String CODEC(ZSTD(1)),
  `request_id` String CODEC(ZSTD(1)),
  `flow_id` String CODEC(ZSTD(1)),
  `trace_id` String CODEC(ZSTD(1)),
  `span_id` String CODEC(ZSTD(1)),
  `step_index` Nullable(UInt16),
  `error_name` LowCardinality(String),
  `error_stack` String CODEC(ZSTD(3)),
  `tags` Array(LowCardinality(String)),
  `fields` String CODEC(LZ4),
  `fingerprint` String CODEC(ZSTD(1)),
  INDEX idx_message message TYPE text(tokenizer = splitByNonAlpha, preprocessor = lower(message), posting_list_codec = 'bitpacking'),
  INDEX idx_session session_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_request request_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_flow flow_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_user user_id TYPE bloom_filter(0.001) GRANULARITY 1,
  PROJECTION p_minute (SELECT project_id, toStartOfMinute(timestamp), severity, count() GROUP BY project_id, toStartOfMinute(timestamp), severity)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/timberyard/logs_local', '{replica}')
PARTITION BY (toDate(timestamp), severity >= 5)
ORDER BY (project_id, timestamp, id)
SETTINGS replicated_deduplication_window = 10000, index_granularity = 8192, merge_selector_base = 10, lightweight_mutation_projection_mode = 'rebuild', deduplicate_merge_projection_mode = 'rebuild';

CREATE TABLE IF NOT EXISTS `timberyard`.logs ON CLUSTER `logs_cluster` (
  `ts_ns` Int64 EPHEMERAL,
  `received_ms` Int64 EPHEMERAL,
  `project_id` LowCardinality(String),
  `timestamp` DateTime64(9) DEFAULT fromUnixTimestamp64Nano(ts_ns),
  `id` UInt64,
  `received_at` DateTime64(3) DEFAULT fromUnixTimestamp64Milli(received_ms),
  `level` LowCardinality(String),
  `severity` UInt8,
  `message` String,
  `service` LowCardinality(String),
  `environment` LowCardinality(String),
  `dataset` LowCardinality(String),
  `host` LowCardinality(String),
  `instance_id` LowCardinality(String),
  `version` LowCardinality(String),
  `user_id` String,
  `session_id` String,
  `request_id` String,
  `flow_id` String,
  `trace_id` String,
  `span_id` String,
  `step_index` Nullable(UInt16),
  `error_name` LowCardinality(String),
  `error_stack` String,
  `tags` Array(LowCardinality(String)),
  `fields` String,
  `fingerprint` String
)
ENGINE = Distributed(`logs_cluster`, `timberyard`, logs_local, sipHash64(id));
