"""GET /v1/logs and GET /v1/logs/{id}: the native read path."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from .. import search
from ..errors import TimberyardError
from ..timerange import format_duration, parse_duration_ms, parse_instant
from .common import JSONResponse, authenticate, credential, int_param, lookup, services

MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def build_filter(request: Request, project_id: str) -> search.Filter:
    """The project, time range and `q` condition of a read request."""
    svc = services(request)
    now_ns = svc.clock.now_ns()
    params = request.query_params
    flt = search.Filter(project_id=project_id)
    if params.get("from"):
        flt.from_ns = parse_instant("from", params["from"], now_ns)
    if params.get("to"):
        flt.to_ns = parse_instant("to", params["to"], now_ns)
    if flt.from_ns is not None and flt.to_ns is not None and flt.from_ns > flt.to_ns:
        raise TimberyardError("BAD_REQUEST", "'from' is after 'to': swap them")
    q = params.get("q", "")
    if q.strip():
        flt.condition, flt.params = svc.compile_query(q)
    return flt


async def list_logs(request: Request) -> JSONResponse:
    """GET /v1/logs: q, from, to, limit, order, cursor, total."""
    svc = services(request)
    key = authenticate(request, "read")
    flt = build_filter(request, key.project_id)
    limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
    order = request.query_params.get("order", "desc").lower()
    if order not in ("asc", "desc"):
        raise TimberyardError("BAD_REQUEST", f"invalid order {order!r}: expected asc or desc")
    offset = int_param(request, "offset", 0, 0, MAX_OFFSET)
    with_total = request.query_params.get("total", "true").lower() not in ("false", "0", "no")
    page = await run_in_threadpool(
        search.find,
        svc.store,
        flt,
        limit=limit,
        order=order,
        cursor=request.query_params.get("cursor") or None,
        offset=offset,
        with_total=with_total,
    )
    if not with_total:
        page.pop("total")
    svc.debouncer.decorate(key.project_id, page["logs"])
    return JSONResponse(page)


async def get_log(request: Request) -> JSONResponse:
    """GET /v1/logs/{id}."""
    svc = services(request)
    key = authenticate(request, "read")
    entry_id = request.path_params["id"]
    entry = await run_in_threadpool(search.get, svc.store, key.project_id, entry_id)
    if entry is None:
        raise TimberyardError("NOT_FOUND", f"no entry {entry_id!r} in this project")
    svc.debouncer.decorate(key.project_id, [entry])
    return JSONResponse(entry)


routes = [
    Route("/v1/logs", list_logs, methods=["GET"]),
    Route("/v1/logs/{id}", get_log, methods=["GET"]),
]


async def get_usage(request: Request) -> JSONResponse:
    """GET /v1/usage: the key's organisation's usage this month (or `?month=YYYY-MM`)."""
    svc = services(request)
    key = lookup(svc, credential(request))
    if not key.project_active:
        raise TimberyardError("NOT_FOUND", "the key's project does not exist or is not active")
    if not key.scopes & {"ingest", "read"}:
        # Public keys live in web pages: the organisation's plan and quota are not theirs.
        raise TimberyardError(
            "FORBIDDEN", "a public pk_ key cannot read usage; use a server, ingest or read key"
        )
    month = request.query_params.get("month")
    if month is not None and not _MONTH.match(month):
        raise TimberyardError("BAD_REQUEST", f"invalid month {month!r}: expected YYYY-MM")
    usage = await run_in_threadpool(svc.limiter.usage, key.org_id, month)
    return JSONResponse(usage)


routes.append(Route("/v1/usage", get_usage, methods=["GET"]))


def _range(request: Request, default_span_ns: int) -> search.Filter:
    """A filter whose range is bounded: `from` defaults to `to` minus the span."""
    svc = services(request)
    key = authenticate(request, "read")
    flt = build_filter(request, key.project_id)
    now_ns = svc.clock.now_ns()
    if flt.to_ns is None:
        flt.to_ns = now_ns
    if flt.from_ns is None:
        flt.from_ns = flt.to_ns - default_span_ns
    if flt.from_ns >= flt.to_ns:
        raise TimberyardError("BAD_REQUEST", "'from' must be before 'to'")
    return flt


async def get_histogram(request: Request) -> JSONResponse:
    """GET /v1/histogram: counts per bucket and level (interval automatic or `interval`)."""
    svc = services(request)
    flt = _range(request, 86_400 * 1_000_000_000)
    assert flt.from_ns is not None and flt.to_ns is not None
    span_ms = (flt.to_ns - flt.from_ns) // 1_000_000
    raw = request.query_params.get("interval")
    if raw:
        interval_ms = parse_duration_ms("interval", raw)
        if span_ms / interval_ms > search.MAX_BUCKETS:
            raise TimberyardError(
                "BAD_REQUEST",
                f"interval {raw!r} gives {span_ms // interval_ms} buckets over this range;"
                f" the limit is {search.MAX_BUCKETS}: choose a wider interval",
            )
    else:
        interval_ms = search.auto_interval(span_ms)
    doc = await run_in_threadpool(search.histogram, svc.store, flt, interval_ms)
    doc["interval"] = format_duration(interval_ms)
    return JSONResponse(doc)


async def get_fields(request: Request) -> JSONResponse:
    """GET /v1/fields: field names with top values and counts, for facets."""
    svc = services(request)
    flt = _range(request, 86_400 * 1_000_000_000)
    return JSONResponse(await run_in_threadpool(search.facets, svc.store, flt))


async def get_session(request: Request) -> JSONResponse:
    """GET /v1/sessions/{id}: every entry of a session, frontend and backend, in time order."""
    svc = services(request)
    key = authenticate(request, "read")
    session = request.path_params["id"]
    logs = await run_in_threadpool(search.related, svc.store, key.project_id, "session_id", session)
    return JSONResponse({"sessionId": session, "logs": logs})


async def get_flow(request: Request) -> JSONResponse:
    """GET /v1/flows/{id}: every entry of a flow, ordered by stepIndex."""
    svc = services(request)
    key = authenticate(request, "read")
    flow = request.path_params["id"]
    logs = await run_in_threadpool(search.related, svc.store, key.project_id, "flow_id", flow)
    return JSONResponse({"flowId": flow, "logs": logs})


routes += [
    Route("/v1/histogram", get_histogram, methods=["GET"]),
    Route("/v1/fields", get_fields, methods=["GET"]),
    Route("/v1/sessions/{id}", get_session, methods=["GET"]),
    Route("/v1/flows/{id}", get_flow, methods=["GET"]),
]
