"""Notification channels under /v1/admin: create, list with deliveries, delete."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ..alerts import Channel, ChannelConfigError, Delivery, validate_channel
from ..errors import TimberyardError
from .admin import require_admin
from .common import JSONResponse, int_param, json_body, services

# Deliveries shown with each channel in a listing; the deliveries route shows more.
RECENT_DELIVERIES = 10
MAX_DELIVERIES = 200


def _check_query(q: str) -> object:
    """Parse a rule's query with the query language, so a bad one is a 400 now."""
    from .. import query as ql

    return ql.parse(q)


def _query_checker() -> Any:
    """`_check_query`, or None (queries accepted unchecked) without the query module."""
    try:
        from .. import query  # noqa: F401
    except ImportError:
        return None
    return _check_query


def channel_out(channel: Channel, created_at: int, deliveries: list[Delivery]) -> dict[str, Any]:
    """The API form of a channel: its config (never the secret) and recent deliveries."""
    return {
        "id": channel.id,
        "organisation": channel.org_id,
        **channel.config.to_json(),
        "createdAt": created_at,
        "deliveries": [d.to_json() for d in deliveries],
    }


def _org_or_404(request: Request, org_id: str) -> None:
    if services(request).meta.get_organisation(org_id) is None:
        raise TimberyardError("NOT_FOUND", f"organisation {org_id!r} not found")


async def org_channels(request: Request) -> JSONResponse:
    """GET lists an organisation's channels; POST creates one."""
    require_admin(request)
    org_id = request.path_params["org"]
    svc = services(request)
    await run_in_threadpool(_org_or_404, request, org_id)
    if request.method == "GET":
        rows = await run_in_threadpool(svc.channels.list_channel_rows, org_id)
        out = [
            channel_out(c, created, await svc.dispatcher.log.recent(c.id, RECENT_DELIVERIES))
            for c, created in rows
        ]
        return JSONResponse({"channels": out})
    body = await json_body(request)
    try:
        config = validate_channel(body, compile_query=_query_checker())
    except ChannelConfigError as exc:
        raise exc.to_api() from None
    if config.type == "email" and not svc.settings.smtp_host:
        raise TimberyardError(
            "VALIDATION_ERROR",
            "email channels need an SMTP relay: set TIMBERYARD_SMTP_HOST on the server",
            issues=["smtp is not configured"],
        )
    channel = await run_in_threadpool(svc.channels.create_channel, org_id, config)
    svc.dispatcher.invalidate(org_id)
    created = await run_in_threadpool(svc.channels.created_at, channel.id)
    return JSONResponse(channel_out(channel, created or 0, []), status_code=201)


async def _channel_or_404(request: Request) -> Channel:
    channel_id = request.path_params["channel"]
    found = await run_in_threadpool(services(request).channels.get_channel, channel_id)
    if found is None:
        raise TimberyardError("NOT_FOUND", f"channel {channel_id!r} not found")
    return found


async def channel(request: Request) -> JSONResponse:
    """GET shows one channel; DELETE removes it with its delivery log."""
    require_admin(request)
    svc = services(request)
    found = await _channel_or_404(request)
    if request.method == "DELETE":
        await run_in_threadpool(svc.channels.delete_channel, found.id)
        svc.dispatcher.invalidate(found.org_id)
        return JSONResponse({"id": found.id, "deleted": True})
    created = await run_in_threadpool(svc.channels.created_at, found.id)
    recent = await svc.dispatcher.log.recent(found.id, RECENT_DELIVERIES)
    return JSONResponse(channel_out(found, created or 0, recent))


async def channel_deliveries(request: Request) -> JSONResponse:
    """GET /v1/admin/channels/{id}/deliveries: the latest attempts, newest first."""
    require_admin(request)
    found = await _channel_or_404(request)
    limit = int_param(request, "limit", 50, 1, MAX_DELIVERIES)
    recent = await services(request).dispatcher.log.recent(found.id, limit)
    return JSONResponse({"deliveries": [d.to_json() for d in recent]})


routes = [
    Route("/v1/admin/organisations/{org}/channels", org_channels, methods=["GET", "POST"]),
    Route("/v1/admin/channels/{channel}", channel, methods=["GET", "DELETE"]),
    Route("/v1/admin/channels/{channel}/deliveries", channel_deliveries, methods=["GET"]),
]
