CREATE DATABASE IF NOT EXISTS `timberyard`;

CREATE TABLE IF NOT EXISTS `timberyard`.schema_version (version UInt32, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version;

CREATE TABLE IF NOT EXISTS `timberyard`.logs (
  `ts_ns` Int64 EPHEMERAL,
  `received_ms` Int64 EPHEMERAL,
  `project_id` LowCardinality(String),
  `timestamp` DateTime64(9) DEFAULT fromUnixTimestamp64Nano(ts_ns) CODEC(Delta, ZSTD(1)),
  `id` UInt64 CODEC(Delta, ZSTD(1)),
  `received_at` DateTime64(3) DEFAULT fromUnixTimestamp64Milli(received_ms) CODEC(Delta, ZSTD(1)),
  `level` LowCardinality(String),
  `severity` UInt8,
  `message` String CODEC(ZSTD(3)),
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
  `fields` String CODEC(ZSTD(3)),
  `fingerprint` String CODEC(ZSTD(1)),
  INDEX idx_message message TYPE text(tokenizer = splitByNonAlpha, preprocessor = lower(message)),
  INDEX idx_session session_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_request request_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_flow flow_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_user user_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (project_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;

ALTER TABLE `timberyard`.logs MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild', deduplicate_merge_projection_mode = 'rebuild';

ALTER TABLE `timberyard`.logs ADD PROJECTION IF NOT EXISTS p_minute (SELECT project_id, toStartOfMinute(timestamp), severity, count() GROUP BY project_id, toStartOfMinute(timestamp), severity);

ALTER TABLE `timberyard`.logs MATERIALIZE PROJECTION p_minute SETTINGS mutations_sync = 2;

DROP TABLE IF EXISTS `timberyard`.logs_v3;

CREATE TABLE IF NOT EXISTS `timberyard`.logs_v3 (
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
ENGINE = MergeTree
PARTITION BY (toDate(timestamp), severity >= 5)
ORDER BY (project_id, timestamp, id)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192, merge_selector_base = 10, lightweight_mutation_projection_mode = 'rebuild', deduplicate_merge_projection_mode = 'rebuild';

INSERT INTO `timberyard`.logs_v3 (`project_id`, `timestamp`, `id`, `received_at`, `level`, `severity`, `message`, `service`, `environment`, `dataset`, `host`, `instance_id`, `version`, `user_id`, `session_id`, `request_id`, `flow_id`, `trace_id`, `span_id`, `step_index`, `error_name`, `error_stack`, `tags`, `fields`, `fingerprint`) SELECT `project_id`, `timestamp`, `id`, `received_at`, `level`, `severity`, `message`, `service`, `environment`, `dataset`, `host`, `instance_id`, `version`, `user_id`, `session_id`, `request_id`, `flow_id`, `trace_id`, `span_id`, `step_index`, `error_name`, `error_stack`, `tags`, `fields`, `fingerprint` FROM `timberyard`.logs;

EXCHANGE TABLES `timberyard`.logs AND `timberyard`.logs_v3;

DROP TABLE `timberyard`.logs_v3;
