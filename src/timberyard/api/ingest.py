"""POST /v1/logs: a body in any of Timberyard's formats, through the one ingestion path."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import formats
from ..ingest.service import Accepted, parse_defaults
from . import otlp
from .common import JSONResponse, authenticate, read_body, services

DEFAULT_PARAMS = ("source", "environment", "level", "dataset")


def query_defaults(request: Request) -> dict[str, str]:
    """The `source`, `environment`, `level`, `dataset` query defaults (SPEC §2.1)."""
    params = request.query_params
    return parse_defaults(
        {"service" if name == "source" else name: params.get(name) for name in DEFAULT_PARAMS}
    )


def strict_param(request: Request) -> bool:
    """`?strict=true`: any invalid entry fails the whole request."""
    return request.query_params.get("strict", "").lower() in ("1", "true", "yes")


def success_body(accepted: Accepted, body_bytes: int, now_ms: int) -> dict[str, Any]:
    """The 200 body that satisfies both seed 000's and seed 003's clients (SPEC §2.1)."""
    result: dict[str, Any] = {
        "success": True,
        "count": accepted.count,
        "accepted": accepted.count,
        "rejected": accepted.rejected,
        "bytesIngested": body_bytes,
        "limitReached": accepted.limit_reached,
        "timestamp": now_ms,
    }
    if accepted.errors:
        result["errors"] = accepted.reported_errors()
    return result


async def post_logs(request: Request) -> Response:
    """POST /v1/logs with a server or ingest key (OTLP/HTTP logs too, answered by api/otlp)."""
    if otlp.is_otlp(request):
        return await otlp.post_logs(request)
    svc = services(request)
    key = authenticate(request, "ingest")
    await svc.ingestor.admit(key)
    body = await read_body(request, svc.limits.max_body_bytes)
    fmt = formats.resolve(
        request.query_params.get("format"), request.headers.get("content-type"), body
    )
    if fmt == "otlp":
        return await otlp.post_body(request, key, body)
    accepted = await svc.ingestor.accept_body(
        key, body, fmt, defaults=query_defaults(request), strict=strict_param(request)
    )
    return JSONResponse(success_body(accepted, len(body), svc.clock.now_ms()))


routes = [Route("/v1/logs", post_logs, methods=["POST"])]
