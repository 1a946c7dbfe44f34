"""The composition root's parts: every service a request handler may use, built once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .alerts import AlertSettings, Dispatcher, RetryPolicy, SmtpSettings
from .alerts.matching import query_compiler
from .clock import Clock
from .debounce import Debouncer
from .ingest.pipeline import Pipeline
from .ingest.service import Ingestor
from .ingest.syslog_server import SyslogListener, project_grant, tls_context
from .keys import Keys
from .limits import Limiter
from .metrics import CountingLog, Metrics
from .model import Limits
from .retention import Retention
from .settings import Settings
from .shared.counters import RedisCounters, SharedCounters
from .shared.relay import Relay
from .storage.alerts_store import SqlChannels, SqlDeliveryLog, SqlGroupStore
from .storage.entries import EntryStore, database_of, storage_dsn
from .storage.meta import MetaStore
from .tail import Broker
from .workers.client import HubCounters, HubRelay, RemoteStore


@dataclass
class Services:
    """Everything a request handler may use, built once per app."""

    settings: Settings
    clock: Clock
    store: EntryStore
    meta: MetaStore
    pipeline: Pipeline
    limits: Limits
    shipper_limits: Limits  # the same with shipper_max_entries (Loki, bulk, syslog)
    limiter: Limiter
    debouncer: Debouncer
    retention: Retention
    dispatcher: Dispatcher
    channels: SqlChannels  # the channels the dispatcher reads, for the admin API
    tail: Broker  # the live tail's fan-out
    keys: Keys
    ingestor: Ingestor  # the one ingestion use-case every surface calls
    metrics: Metrics  # this app's Prometheus registry
    relay: Relay | None = None  # with Redis: rows and invalidations between nodes
    syslog: SyslogListener | None = None  # the network syslog listener, when a port is set

    def compile_query(self, q: str) -> tuple[str, dict[str, Any]]:
        """SQL condition and parameters for a query string; QUERY_ERROR when it is invalid."""
        from . import query as ql

        try:
            node = ql.parse(q)
            return ql.compile(node)
        except ql.QueryError as exc:
            raise exc.to_api() from None


def build_dispatcher(
    settings: Settings, meta: MetaStore, channels: SqlChannels, clock: Clock
) -> Dispatcher:
    """The notification dispatcher over the metadata store's channels, groups and log."""
    alert_settings = AlertSettings(
        public_url=settings.public_url or f"http://{settings.host}:{settings.port}",
        group_interval=settings.alert_group_interval,
        retry=RetryPolicy(
            attempts=settings.alert_retry_attempts, base=settings.alert_retry_backoff
        ),
        smtp=SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls and not settings.smtp_ssl,
            ssl=settings.smtp_ssl,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            sender=settings.smtp_sender,
        ),
    )
    return Dispatcher(
        channels,
        settings=alert_settings,
        groups=SqlGroupStore(meta.engine),
        log=SqlDeliveryLog(meta.engine),
        compile_query=query_compiler(),
        clock=clock,
    )


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Open nothing yet: the app's lifespan opens the stores and starts the pipeline."""
    clock = clock or Clock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    dsn = storage_dsn(settings.storage, settings.data_dir)
    database = database_of(dsn, settings.database)
    store: EntryStore
    if settings.is_worker and dsn.startswith("chdb://"):
        # Embedded ClickHouse lives in the owner process; a server every worker reaches.
        store = RemoteStore(Path(settings.owner_socket), database, settings.cluster)
    else:
        store = EntryStore(dsn, database, settings.cluster)
    meta = MetaStore(settings.metadata_url)
    pipeline = Pipeline(
        store,
        settings.wal_dir,
        batch_rows=settings.batch_rows,
        batch_seconds=settings.batch_seconds,
        max_unflushed_bytes=settings.wal_max_bytes,
        segment_bytes=settings.wal_segment_bytes,
        clock=clock,
    )
    limits = Limits(
        max_entries=settings.max_entries,
        max_message_bytes=settings.max_message_bytes,
        max_body_bytes=settings.max_body_bytes,
    )
    shipper_limits = dataclasses.replace(limits, max_entries=settings.shipper_max_entries)
    shared: SharedCounters | None = None
    if settings.redis_url:
        shared = RedisCounters(settings.redis_url)
    elif settings.is_worker:
        shared = HubCounters(Path(settings.owner_socket))
    limiter = Limiter(meta, clock, enforce=settings.enforce_limits, shared=shared)
    retention = Retention(store, meta, clock, settings.retention_check_seconds)
    channels = SqlChannels(meta.engine)
    tail = Broker.from_settings(settings)
    keys = Keys(meta)
    relay: Relay | None = None

    def invalidated() -> None:  # another node changed keys, projects or plans
        keys.cache.clear()
        limiter.forget()

    if settings.redis_url:
        relay = Relay(settings.redis_url, tail.publish, invalidated)
    elif settings.is_worker:
        relay = HubRelay(
            Path(settings.owner_socket), settings.worker_index, tail.publish, invalidated, tail
        )
    if relay is not None:
        pipeline.listeners.append(relay.rows)  # every node's rows reach tails in id order
        keys.on_clear.append(relay.invalidate)
    else:
        pipeline.listeners.append(tail.publish)
    dispatcher = build_dispatcher(settings, meta, channels, clock)
    dispatcher.log = CountingLog(dispatcher.log)  # attempts by outcome, for the metrics
    ingestor = Ingestor(pipeline, limiter, dispatcher, clock, limits)
    services = Services(
        settings=settings,
        clock=clock,
        store=store,
        meta=meta,
        pipeline=pipeline,
        limits=limits,
        shipper_limits=shipper_limits,
        limiter=limiter,
        debouncer=Debouncer(meta, clock),
        retention=retention,
        dispatcher=dispatcher,
        channels=channels,
        tail=tail,
        keys=keys,
        ingestor=ingestor,
        metrics=Metrics(),
        relay=relay,
        # With workers, the first one listens for syslog (and OTLP/gRPC, see app.py).
        syslog=(
            build_syslog(settings, meta, ingestor, shipper_limits)
            if settings.worker_index <= 0
            else None
        ),
    )
    services.metrics.attach(services)
    return services


def build_syslog(
    settings: Settings, meta: MetaStore, ingestor: Ingestor, limits: Limits
) -> SyslogListener | None:
    """The syslog listener of `--syslog-port` (started by the lifespan), or None when off."""
    if not settings.syslog_port:
        return None
    if not settings.syslog_project:
        raise ValueError("--syslog-port needs --syslog-project: the id of the project to store in")
    if bool(settings.syslog_tls_cert) != bool(settings.syslog_tls_key):
        raise ValueError("syslog TLS needs both --syslog-tls-cert and --syslog-tls-key")
    tls = None
    if settings.syslog_tls_cert:
        tls = tls_context(settings.syslog_tls_cert, settings.syslog_tls_key)
    project = settings.syslog_project
    return SyslogListener(
        ingestor,
        lambda: project_grant(meta, project),
        settings.host,
        settings.syslog_port,
        tls=tls,
        limits=limits,
    )
