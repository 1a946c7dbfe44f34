"""create_app(settings): routes, error handling and the lifespan that opens the stores."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .alerts import AlertSettings, Dispatcher, RetryPolicy, SmtpSettings
from .alerts.matching import query_compiler
from .api import admin, browser, compat_read, ingest, openapi, query, tracking
from .api import alerts as alerts_api
from .api import groups as groups_api
from .api import tail as tail_api
from .api.common import JSONResponse, KeyCache, error_response
from .clock import Clock
from .debounce import Debouncer
from .errors import TimberyardError
from .ingest.pipeline import Pipeline
from .limits import Limiter
from .model import Limits
from .retention import Retention
from .settings import Settings
from .storage.alerts_store import SqlChannels, SqlDeliveryLog, SqlGroupStore
from .storage.entries import EntryStore, StoreUnavailable, database_of, storage_dsn
from .storage.meta import MetaStore
from .tail import Broker
from .web.routes import routes as web_routes

log = logging.getLogger("timberyard")


@dataclass
class Services:
    """Everything a request handler may use, built once per app."""

    settings: Settings
    clock: Clock
    store: EntryStore
    meta: MetaStore
    pipeline: Pipeline
    limits: Limits
    limiter: Limiter
    debouncer: Debouncer
    retention: Retention
    dispatcher: Dispatcher
    channels: SqlChannels  # the channels the dispatcher reads, for the admin API
    tail: Broker  # the live tail's fan-out
    keys: KeyCache = field(default_factory=KeyCache)

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
    """Open nothing yet: the lifespan opens the stores and starts the pipeline."""
    clock = clock or Clock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    dsn = storage_dsn(settings.storage, settings.data_dir)
    store = EntryStore(dsn, database_of(dsn, settings.database))
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
    limiter = Limiter(meta, clock, enforce=settings.enforce_limits)
    retention = Retention(store, meta, clock, settings.retention_check_seconds)
    channels = SqlChannels(meta.engine)
    tail = Broker.from_settings(settings)
    pipeline.listeners.append(tail.publish)
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        meta=meta,
        pipeline=pipeline,
        limits=limits,
        limiter=limiter,
        debouncer=Debouncer(meta, clock),
        retention=retention,
        dispatcher=build_dispatcher(settings, meta, channels, clock),
        channels=channels,
        tail=tail,
    )


async def _health(request: Request) -> JSONResponse:
    """GET /health: ingestion pipeline state; 503 while the entry store is unreachable."""
    svc: Services = request.app.state.services
    stats = svc.pipeline.stats()
    healthy = stats["storeError"] is None
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "ingest": stats},
        status_code=200 if healthy else 503,
    )


async def _timberyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TimberyardError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
    message = {
        404: f"no route {request.method} {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    return error_response(TimberyardError(code, message))


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    log.error("entry store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        TimberyardError(
            "UNAVAILABLE",
            "the log store is unavailable; retry later",
            headers={"Retry-After": "5"},
            retryAfter=5,
        )
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
    return error_response(
        TimberyardError("INTERNAL", f"internal error {incident}; it has been logged")
    )


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Starlette:
    """The ASGI application for these settings."""
    settings = settings or Settings.from_env()
    services = build_services(settings, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services.meta.create()
        try:
            services.store.open()
        except StoreUnavailable as exc:
            # Keep accepting into the WAL; the flusher connects when the store is back.
            log.error("entry store unavailable at start-up: %s", exc)
        await services.pipeline.start()
        await services.dispatcher.start()
        await services.limiter.start()
        await services.retention.start()
        try:
            yield
        finally:
            await services.retention.stop()
            await services.dispatcher.stop()
            await services.pipeline.stop()
            await services.limiter.stop()
            services.store.close()
            services.meta.close()

    routes = [
        Route("/health", _health, methods=["GET"]),
        *openapi.routes,
        *browser.routes,
        *ingest.routes,
        *tracking.routes,
        *query.routes,
        *compat_read.routes,
        *tail_api.routes,
        *web_routes,  # last: GET / and /static/...
        *admin.routes,
        *alerts_api.routes,
        *groups_api.routes,
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            TimberyardError: _timberyard_error,
            HTTPException: _http_error,
            StoreUnavailable: _store_unavailable,
            Exception: _unexpected,
        },
    )
    app.state.services = services
    return app
