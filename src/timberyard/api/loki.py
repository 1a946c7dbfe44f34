"""POST /loki/api/v1/push: Loki's push API (JSON or snappy protobuf), one ingestion path."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..errors import TimberyardError
from ..formats import Parsed, loki
from ..model import Limits
from .common import authenticate, protocol_errors, read_body, services, shipper_limits

JSON_TYPES = frozenset({"application/json", "text/json"})
PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})


def render_error(error: TimberyardError) -> Response:
    """A Loki error: the message as a text body, with the status of our vocabulary."""
    return PlainTextResponse(error.message + "\n", status_code=error.status, headers=error.headers)


def decoder(content_type: str | None, limits: Limits) -> Callable[[bytes, int], Parsed]:
    """The body decoder for a Content-Type: JSON, snappy protobuf, or sniffed when absent."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    entries, size = limits.max_entries, limits.max_body_bytes
    if media in JSON_TYPES:
        return partial(loki.parse_json, max_entries=entries)
    if media in PROTOBUF_TYPES:
        return partial(loki.parse_protobuf, max_entries=entries, max_bytes=size)
    if media in ("", "application/octet-stream"):
        return partial(loki.parse, max_entries=entries, max_bytes=size)
    raise TimberyardError(
        "UNSUPPORTED_MEDIA_TYPE",
        f"unsupported Content-Type {content_type!r}: send application/json"
        " or application/x-protobuf (snappy-compressed)",
    )


@protocol_errors(render_error)
async def push(request: Request) -> Response:
    """POST /loki/api/v1/push: Loki streams (JSON, gzip JSON or snappy protobuf); answers 204."""
    svc = services(request)
    key = authenticate(request, "ingest")
    await svc.ingestor.admit(key)
    limits = shipper_limits(svc)
    decode = decoder(request.headers.get("content-type"), limits)
    body = await read_body(request, limits.max_body_bytes)
    await svc.ingestor.accept_body(
        key, body, "loki", decode=decode, limits=limits, surface="loki"
    )
    return Response(status_code=204)


routes = [Route("/loki/api/v1/push", push, methods=["POST"])]
