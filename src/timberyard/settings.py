"""Every setting in one table: name, default, environment variable and help."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """The server's configuration; `from_env()` reads the TIMBERYARD_* variables."""

    data_dir: Path = _setting(
        Path("./timberyard-data"),
        "TIMBERYARD_DATA",
        "data folder: WAL, embedded ClickHouse, metadata",
    )
    host: str = _setting("127.0.0.1", "TIMBERYARD_HOST", "address to listen on")
    port: int = _setting(8080, "TIMBERYARD_PORT", "port to listen on")
    otlp_grpc_port: int = _setting(
        0,
        "TIMBERYARD_OTLP_GRPC_PORT",
        "port of the OTLP/gRPC logs receiver on the same host (4317 is OTLP's own); 0: off",
    )
    storage: str | None = _setting(
        None,
        "TIMBERYARD_STORAGE",
        "ClickHouse server DSN (http://host:8123/db or clickhouse://...); empty: embedded chDB",
    )
    database: str = _setting("timberyard", "TIMBERYARD_DATABASE", "ClickHouse database name")
    cluster: str | None = _setting(
        None,
        "TIMBERYARD_CLUSTER",
        "ClickHouse cluster (remote_servers) name: replicated tables and migrations ON CLUSTER",
    )
    meta_url: str | None = _setting(
        None,
        "TIMBERYARD_META_URL",
        "SQLAlchemy URL of the metadata store; empty: SQLite file in the data folder",
    )
    redis_url: str | None = _setting(
        None,
        "TIMBERYARD_REDIS_URL",
        "Redis shared by several nodes (rate limits, quotas, debounce, live tail, alert"
        " deduplication, key changes); empty: in-process state of one node",
    )
    metrics_token: str | None = _setting(
        None,
        "TIMBERYARD_METRICS_TOKEN",
        "bearer token for GET /metrics besides the admin token",
    )
    workers: int = _setting(
        0,
        "TIMBERYARD_WORKERS",
        "ingest processes on the one port, each with its own WAL, in front of one process"
        " that owns the store (at most 8); 0: everything in one process",
    )
    worker_index: int = _setting(
        -1,
        "TIMBERYARD_WORKER_INDEX",
        "set by `serve --workers` in the processes it starts: which worker this is",
    )
    owner_socket: str = _setting(
        "",
        "TIMBERYARD_OWNER_SOCKET",
        "set by `serve --workers` in the processes it starts: the owner process's socket",
    )
    metrics_port: int = _setting(
        0,
        "TIMBERYARD_METRICS_PORT",
        "serve /metrics without authentication on this port too (0: off)",
    )
    ready_wait_seconds: float = _setting(
        10.0,
        "TIMBERYARD_READY_WAIT_SECONDS",
        "longest a read waits after a restart for the WAL replay to reach the store",
    )
    admin_token: str | None = _setting(
        None, "TIMBERYARD_ADMIN_TOKEN", "admin token for /v1/admin (else the one `init` generated)"
    )
    public_url: str = _setting(
        "",
        "TIMBERYARD_PUBLIC_URL",
        "URL of this server as users reach it, for links in notifications",
    )
    max_entries: int = _setting(1000, "TIMBERYARD_MAX_ENTRIES", "entries per ingestion request")
    shipper_max_entries: int = _setting(
        10000,
        "TIMBERYARD_SHIPPER_MAX_ENTRIES",
        "entries per Loki push, Elasticsearch bulk request or syslog batch (shippers batch more)",
    )
    max_message_bytes: int = _setting(65536, "TIMBERYARD_MAX_MESSAGE_BYTES", "bytes per message")
    max_body_bytes: int = _setting(
        10 * 1024 * 1024, "TIMBERYARD_MAX_BODY_BYTES", "bytes per request body (after gunzip)"
    )
    large_body_concurrency: int = _setting(
        4,
        "TIMBERYARD_LARGE_BODY_CONCURRENCY",
        "requests at a time that may hold a body past 1 MiB (sent or inflated); others wait",
    )
    header_timeout: float = _setting(
        10.0, "TIMBERYARD_HEADER_TIMEOUT", "seconds a client has to send a request's headers"
    )
    body_timeout: float = _setting(
        60.0,
        "TIMBERYARD_BODY_TIMEOUT",
        "seconds a client has to send a request's body once its headers are in",
    )
    keep_alive_timeout: float = _setting(
        5.0, "TIMBERYARD_KEEP_ALIVE_TIMEOUT", "seconds an idle keep-alive connection stays open"
    )
    max_connections: int = _setting(
        1000,
        "TIMBERYARD_MAX_CONNECTIONS",
        "connections open (and requests served) at once; past it a new one is answered 503",
    )
    batch_rows: int = _setting(
        100_000,
        "TIMBERYARD_BATCH_ROWS",
        "most rows per insert into ClickHouse (a backlog goes in inserts this large)",
    )
    batch_seconds: float = _setting(
        0.25, "TIMBERYARD_BATCH_SECONDS", "longest wait before a partial batch is inserted"
    )
    wal_max_bytes: int = _setting(
        256 * 1024 * 1024,
        "TIMBERYARD_WAL_MAX_BYTES",
        "unflushed WAL bytes beyond which ingestion answers 503 (store unreachable)",
    )
    wal_segment_bytes: int = _setting(
        64 * 1024 * 1024, "TIMBERYARD_WAL_SEGMENT_BYTES", "size of one WAL segment file"
    )
    browser_rate_per_minute: int = _setting(
        120, "TIMBERYARD_BROWSER_RATE_PER_MINUTE", "browser requests per minute per client address"
    )
    retention_check_seconds: float = _setting(
        3600.0, "TIMBERYARD_RETENTION_CHECK_SECONDS", "how often expired entries are removed"
    )
    enforce_limits: bool = _setting(
        True,
        "TIMBERYARD_ENFORCE_LIMITS",
        "apply plan quotas and rate limits (off: trusted single-tenant installs, benchmarks)",
    )
    log_level: str = _setting("info", "TIMBERYARD_LOG_LEVEL", "server log level")
    syslog_port: int = _setting(
        0, "TIMBERYARD_SYSLOG_PORT", "UDP and TCP port for syslog (RFC 5424/3164, RFC 6587); 0: off"
    )
    syslog_project: str = _setting(
        "", "TIMBERYARD_SYSLOG_PROJECT", "id of the project that syslog entries are stored in"
    )
    syslog_tls_cert: str = _setting(
        "", "TIMBERYARD_SYSLOG_TLS_CERT", "PEM certificate: syslog over TCP speaks TLS (RFC 5425)"
    )
    syslog_tls_key: str = _setting(
        "", "TIMBERYARD_SYSLOG_TLS_KEY", "PEM private key of the syslog TLS certificate"
    )
    smtp_host: str = _setting(
        "", "TIMBERYARD_SMTP_HOST", "SMTP relay for email notification channels; empty: email off"
    )
    smtp_port: int = _setting(587, "TIMBERYARD_SMTP_PORT", "port of the SMTP relay")
    smtp_starttls: bool = _setting(
        True, "TIMBERYARD_SMTP_STARTTLS", "upgrade the SMTP connection with STARTTLS"
    )
    smtp_ssl: bool = _setting(
        False, "TIMBERYARD_SMTP_SSL", "implicit TLS to the SMTP relay (port 465); not with STARTTLS"
    )
    smtp_username: str | None = _setting(
        None, "TIMBERYARD_SMTP_USERNAME", "SMTP login; empty: no authentication"
    )
    smtp_password: str | None = _setting(None, "TIMBERYARD_SMTP_PASSWORD", "SMTP password")
    smtp_sender: str = _setting(
        "timberyard@localhost", "TIMBERYARD_SMTP_SENDER", "From address of notification emails"
    )
    alert_group_interval: float = _setting(
        600.0,
        "TIMBERYARD_ALERT_GROUP_INTERVAL",
        "seconds between notifications of one error group on one channel (a storm sends one)",
    )
    alert_retry_attempts: int = _setting(
        5, "TIMBERYARD_ALERT_RETRY_ATTEMPTS", "delivery attempts of one notification"
    )
    alert_retry_backoff: float = _setting(
        1.0,
        "TIMBERYARD_ALERT_RETRY_BACKOFF",
        "seconds before the first retry of a notification; doubles per attempt, up to 60",
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then TIMBERYARD_* variables, then explicit overrides (CLI flags)."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = environ.get(item.metadata["env"])
            if raw is not None and raw != "":
                values[item.name] = _convert(item.default, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return replace(cls(), **values)

    @property
    def is_worker(self) -> bool:
        """Whether this process is one of the workers of `serve --workers`."""
        return self.worker_index >= 0

    @property
    def wal_dir(self) -> Path:
        if self.is_worker:
            return self.data_dir / "wal" / f"worker-{self.worker_index}"
        return self.data_dir / "wal"

    @property
    def metadata_url(self) -> str:
        return self.meta_url or f"sqlite:///{(self.data_dir / 'meta.sqlite3').resolve()}"


def _convert(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    return raw


def describe() -> list[tuple[str, str, str, str]]:
    """(name, default, env var, help) for every setting: the documentation table."""
    return [
        (item.name, str(item.default), item.metadata["env"], item.metadata["help"])
        for item in fields(Settings)
    ]
