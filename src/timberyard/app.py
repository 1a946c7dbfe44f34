"""create_app(settings): routes, error handling and the lifespan that opens the stores."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from .api import (
    admin,
    browser,
    compat_read,
    elastic,
    flows,
    ingest,
    loki,
    openapi,
    ops,
    query,
    tracking,
)
from .api import alerts as alerts_api
from .api import groups as groups_api
from .api import tail as tail_api
from .api.common import JSONResponse, LargeBodies, error_response
from .api.otlp_grpc import OtlpGrpcServer
from .clock import Clock
from .errors import TimberyardError
from .ingest.orphans import drain, worker_logs
from .metrics import MetricsMiddleware
from .services import Services, build_services
from .settings import Settings
from .storage.entries import StoreInternal, StoreRejected, StoreUnavailable
from .web.routes import routes as web_routes

log = logging.getLogger("timberyard")


async def _health(request: Request) -> JSONResponse:
    """GET /health: pipeline state and syslog counters; 503 while rows cannot reach the store."""
    svc: Services = request.app.state.services
    stats = svc.pipeline.stats()
    healthy = stats["storeError"] is None and stats["flusherError"] is None
    body = {"status": "ok" if healthy else "degraded", "ingest": stats}
    if svc.syslog is not None:
        body["syslog"] = svc.syslog.stats()
    return JSONResponse(body, status_code=200 if healthy else 503)


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


async def _store_rejected(request: Request, exc: Exception) -> Response:
    # A value of the request that the store cannot use: the client's to fix.
    return error_response(TimberyardError("BAD_REQUEST", str(exc)))


async def _store_internal(request: Request, exc: Exception) -> Response:
    incident = uuid.uuid4().hex[:12]
    log.error(
        "entry store refused a statement, incident %s on %s %s: %s",
        incident,
        request.method,
        request.url.path,
        exc,
    )
    return error_response(
        TimberyardError("INTERNAL", f"internal error {incident}; it has been logged")
    )


async def _client_gone(request: Request, exc: Exception) -> Response:
    # Nobody reads this answer; one line, not a traceback anyone could flood the log with.
    log.info("client went away during %s %s", request.method, request.url.path)
    return Response(status_code=400)


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
        if not settings.is_worker and services.store.is_open():
            # Logs a `serve --workers` left behind, before this process accepts anything.
            await drain(services.store, worker_logs(settings.wal_dir))
        if services.relay is not None:
            services.pipeline.id_offset = await services.relay.claim_slot()
        await services.pipeline.start()
        if services.relay is not None:
            await services.relay.start()
        await services.dispatcher.start()
        await services.limiter.start()
        if not settings.is_worker:  # the owner process of `serve --workers` runs retention
            await services.retention.start()
        grpc_server = None
        if settings.otlp_grpc_port and settings.worker_index <= 0:
            grpc_server = OtlpGrpcServer(services, settings.host, settings.otlp_grpc_port)
            await grpc_server.start()
        if services.syslog is not None:
            await services.syslog.start()
        try:
            yield
        finally:
            if services.syslog is not None:
                await services.syslog.stop()
            if grpc_server is not None:
                await grpc_server.stop()
            await services.retention.stop()
            await services.dispatcher.stop()
            await services.pipeline.stop()
            if services.relay is not None:
                await services.relay.stop()
            await services.limiter.stop()
            services.store.close()
            services.meta.close()

    routes = [
        Route("/health", _health, methods=["GET"]),
        *ops.routes,
        *openapi.routes,
        *browser.routes,
        *ingest.routes,
        *flows.routes,
        *tracking.routes,
        *query.routes,
        *compat_read.routes,
        *loki.routes,
        *elastic.routes,
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
            StoreRejected: _store_rejected,
            StoreInternal: _store_internal,


            ClientDisconnect: _client_gone,
            Exception: _unexpected,
        },
    )
    app.state.services = services
    templates = {r.endpoint: r.path for r in reversed(routes) if isinstance(r, Route)}
    app.add_middleware(ops.ReplayGate, pipeline=services.pipeline,
                       timeout=settings.ready_wait_seconds)  # fmt: skip
    app.add_middleware(MetricsMiddleware, metrics=services.metrics, templates=templates)
    app.add_middleware(LargeBodies, permits=settings.large_body_concurrency)
    return app
