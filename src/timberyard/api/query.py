"""GET /v1/logs and GET /v1/logs/{id}: the native read path."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from .. import search
from ..errors import TimberyardError
from ..timerange import parse_instant
from .common import JSONResponse, authenticate, bearer, int_param, lookup, services

MAX_LIMIT = 10_000
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
    with_total = request.query_params.get("total", "true").lower() not in ("false", "0", "no")
    page = await run_in_threadpool(
        search.find,
        svc.store,
        flt,
        limit=limit,
        order=order,
        cursor=request.query_params.get("cursor") or None,
        with_total=with_total,
    )
    if not with_total:
        page.pop("total")
    return JSONResponse(page)


async def get_log(request: Request) -> JSONResponse:
    """GET /v1/logs/{id}."""
    svc = services(request)
    key = authenticate(request, "read")
    entry_id = request.path_params["id"]
    entry = await run_in_threadpool(search.get, svc.store, key.project_id, entry_id)
    if entry is None:
        raise TimberyardError("NOT_FOUND", f"no entry {entry_id!r} in this project")
    return JSONResponse(entry)


routes = [
    Route("/v1/logs", list_logs, methods=["GET"]),
    Route("/v1/logs/{id}", get_log, methods=["GET"]),
]


async def get_usage(request: Request) -> JSONResponse:
    """GET /v1/usage: the key's organisation's usage this month (or `?month=YYYY-MM`)."""
    svc = services(request)
    key = lookup(svc, bearer(request))
    month = request.query_params.get("month")
    if month is not None and not _MONTH.match(month):
        raise TimberyardError("BAD_REQUEST", f"invalid month {month!r}: expected YYYY-MM")
    usage = await run_in_threadpool(svc.limiter.usage, key.org_id, month)
    return JSONResponse(usage)


routes.append(Route("/v1/usage", get_usage, methods=["GET"]))
