"""Operations: GET /ready (readiness) and GET /metrics (Prometheus), and the replay gate.

After a restart the WAL's unflushed records are replayed into the store. Until
that replay is stored a search would miss acknowledged entries, so the node is
not ready (load balancers keep traffic away) and reads that arrive anyway wait
for the replay, at most `ready_wait_seconds`, before they are answered.
"""

from __future__ import annotations

import asyncio
import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import TimberyardError
from ..ingest.pipeline import Pipeline
from ..metrics import CONTENT_TYPE
from .admin import require_admin
from .common import JSONResponse, credential, public, services

# Paths that answer at once even while the replay runs: probes must not wait.
UNGATED = frozenset({"/health", "/ready", "/metrics"})


@public
async def ready(request: Request) -> JSONResponse:
    """GET /ready: 200 once the WAL replay after a restart is stored and the store is up."""
    pipeline = services(request).pipeline
    replayed = pipeline.replay_done()
    stats = pipeline.stats()
    reachable = stats["storeError"] is None
    ok = replayed and reachable
    body = {
        "status": "ready" if ok else "starting" if not replayed else "degraded",
        "replayDone": replayed,
        "storeReachable": reachable,
        "queuedRows": stats["queuedRows"],
    }
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text format; the admin token or the metrics token."""
    svc = services(request)
    configured = svc.settings.metrics_token
    token = credential(request)
    if not (configured and token and hmac.compare_digest(configured.encode(), token.encode())):
        if not token:
            raise TimberyardError(
                "UNAUTHORIZED", "metrics need the admin or metrics token: Authorization: Bearer"
            )
        require_admin(request)
    # The store is queried off the event loop; the services' own counters are read on it.
    await asyncio.to_thread(svc.metrics.read_store_memory, svc.store)
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE)


class ReplayGate:
    """Holds GET requests (reads) until the start-up replay is stored, for a bounded time."""

    def __init__(self, app: ASGIApp, pipeline: Pipeline, timeout: float) -> None:
        self.app = app
        self.pipeline = pipeline
        self.timeout = timeout
        self.open = False  # once the replay is done it stays done: one check per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.open
            and scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"] not in UNGATED
        ):
            # A timeout lets the read through: it then shows what is stored so far.
            self.open = await self.pipeline.wait_replayed(self.timeout)
        await self.app(scope, receive, send)


routes = [
    Route("/ready", ready, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
