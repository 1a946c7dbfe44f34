"""Seed read contracts: GET /logs (seed 002) and GET /v1/applications/{id}/logs (seed 004).

Seed 002 answers every error as `{"status": "error", "message": ...}`; seed 004
uses Timberyard's own error bodies (`{"error", "code"}`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from .. import search
from ..errors import TimberyardError, ValidationIssue
from ..model import LEVELS, iso_from_ns, parse_level, parse_time
from ..storage.meta import KeyInfo
from .common import JSONResponse, authenticate, credential, lookup, services

if TYPE_CHECKING:
    from ..services import Services

MS = 1_000_000  # nanoseconds
HOUR = 3600 * 1_000_000_000
DAY = 24 * HOUR

# -- shared -------------------------------------------------------------------

# A `+` of an unencoded UTC offset arrives as a space: "…T09:00:00 02:00".
_PLUS_AS_SPACE = re.compile(r"(?<=\d) (\d{2}(?::?\d{2})?)$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso_instant(value: str) -> int | None:
    """Nanoseconds for an ISO 8601 date or date-time (UTC when no offset), else None."""
    text = value.strip()
    if "T" in text[:11]:
        text = _PLUS_AS_SPACE.sub(r"+\1", text)
    if not text or text.replace(".", "", 1).lstrip("+-").isdigit():
        return None  # numbers are not ISO 8601, though parse_time would take them
    try:
        return parse_time(text)
    except ValidationIssue:
        return None


def _quoted(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "…")


# -- seed 002: GET /logs ------------------------------------------------------

SEED002_DEFAULT_LIMIT = 50
SEED002_MAX_LIMIT = 1000
SEED002_MAX_OFFSET = 1_000_000_000
# Timberyard level -> the seed's level; trace and success fold into their neighbours.
SEED002_LEVEL = {
    "trace": "DEBUG",
    "debug": "DEBUG",
    "info": "INFO",
    "success": "INFO",
    "warn": "WARN",
    "error": "ERROR",
    "fatal": "FATAL",
}
SEED002_UNAUTHORIZED = "Authentication required. Please provide a valid API key or token."
SEED002_FORBIDDEN = "You do not have permission to access API logs."


class Seed002Error(Exception):
    """An error answered in seed 002's shape: `{"status": "error", "message": ...}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse({"status": "error", "message": self.message}, status_code=self.status)


def seed002_key(request: Request) -> KeyInfo:
    """The read key of a request: 401 when missing or invalid, 403 otherwise refused."""
    try:
        return authenticate(request, "read")
    except TimberyardError as exc:
        if exc.status == 401:
            raise Seed002Error(401, SEED002_UNAUTHORIZED) from None
        if exc.status == 400:  # the admin token without ?project=
            raise Seed002Error(400, exc.message) from None
        # No read scope, or the key's project is inactive: the seed knows only 403.
        raise Seed002Error(403, SEED002_FORBIDDEN) from None


def _seed002_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise Seed002Error(
            400,
            f"Invalid value {_quoted(raw)} for '{name}'."
            f" Please use an integer from {low} to {high}.",
        )
    return value


def _seed002_date(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    ns = iso_instant(raw)
    if ns is None:
        raise Seed002Error(
            400,
            f"Invalid date format for '{name}'. Please use ISO 8601 format (YYYY-MM-DDTHH:MM:SSZ).",
        )
    return ns


def _seed002_levels(raw: str) -> list[str]:
    """The Timberyard levels for `level` (one seed level, or several: commas or repeats)."""
    wanted: set[str] = set()
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            seed_level = SEED002_LEVEL[parse_level(part)]
        except ValidationIssue:
            raise Seed002Error(
                400,
                f"Invalid value {_quoted(part)} for 'level'."
                " Please use one of DEBUG, INFO, WARN, ERROR, FATAL.",
            ) from None
        wanted.update(lv for lv, seed in SEED002_LEVEL.items() if seed == seed_level)
    return [lv for lv in LEVELS if lv in wanted]


def seed002_filter(request: Request, project_id: str) -> search.Filter:
    """startDate, endDate (both inclusive), level, service and search as one filter."""
    params = request.query_params
    start = _seed002_date(request, "startDate")
    end = _seed002_date(request, "endDate")
    if end is not None:
        # Inclusive; a bare date means the whole of that day.
        whole_day = _DATE_ONLY.match(params["endDate"].strip())
        end = end + DAY if whole_day else end + 1
    if start is not None and end is not None and start >= end:
        raise Seed002Error(400, "Invalid date range: 'startDate' is after 'endDate'.")
    return search.Filter(
        project_id,
        start,
        end,
        levels=_seed002_levels(",".join(params.getlist("level"))),
        service=params.get("service") or None,
        search=params.get("search") or None,
    )


def seed002_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as seed 002 shows it; `details` is the entry's fields, `{}` when none."""
    ns = entry["timestamp"] * MS
    return {
        "timestamp": iso_from_ns(ns, 3 if ns % 1_000_000_000 else 0),
        "level": SEED002_LEVEL[entry["level"]],
        "service": entry.get("service") or "",
        "message": entry["message"],
        "details": entry.get("fields") or {},
    }


def seed002_page(svc: Services, flt: search.Filter, limit: int, offset: int) -> dict[str, Any]:
    """A page newest first, with debounce counts in `fields` as GET /v1/logs shows them."""
    page = search.find(svc.store, flt, limit=limit, order="desc", offset=offset)
    svc.debouncer.decorate(flt.project_id, page["logs"])
    return page


async def api_logs(request: Request) -> JSONResponse:
    """GET /logs: limit, offset, startDate, endDate, level, service, search; newest first."""
    svc = services(request)
    try:
        key = seed002_key(request)
        limit = _seed002_int(request, "limit", SEED002_DEFAULT_LIMIT, 1, SEED002_MAX_LIMIT)
        offset = _seed002_int(request, "offset", 0, 0, SEED002_MAX_OFFSET)
        flt = seed002_filter(request, key.project_id)
    except Seed002Error as exc:
        return exc.response()
    page = await run_in_threadpool(seed002_page, svc, flt, limit, offset)
    logs = [seed002_entry(e) for e in page["logs"]]
    more = page["nextCursor"] is not None
    pagination = {
        "total": page["total"],
        "limit": limit,
        "offset": offset,
        "nextOffset": offset + len(logs) if more else None,
    }
    return JSONResponse({"status": "success", "data": {"logs": logs, "pagination": pagination}})


# -- seed 004: GET /v1/applications/{id}/logs ---------------------------------

SEED004_DEFAULT_LIMIT = 200
SEED004_MAX_LIMIT = 2500


async def application_key(request: Request, app_id: str) -> KeyInfo:
    """401 bad key; 404 unknown or inactive application; 403 another project's key (SPEC §3.4)."""
    svc = services(request)
    key = lookup(svc, credential(request))
    project = await run_in_threadpool(svc.meta.get_project, app_id)
    if project is None or not project["active"]:
        raise TimberyardError("NOT_FOUND", f"application {_quoted(app_id)} not found")
    if key.project_id != app_id or "read" not in key.scopes:
        raise TimberyardError(
            "FORBIDDEN", f"this API key does not have read access to application {_quoted(app_id)}"
        )
    return key


def seed004_limit(request: Request) -> int:
    """`limit`: default 200; above 2500 it is reduced to 2500; below 1 or not a number is 400."""
    raw = request.query_params.get("limit")
    if raw is None or raw.strip() == "":
        return SEED004_DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise TimberyardError(
            "BAD_REQUEST",
            f"invalid limit {_quoted(raw)}: expected an integer from 1 to {SEED004_MAX_LIMIT}",
        )
    return min(value, SEED004_MAX_LIMIT)


def _seed004_instant(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    ns = iso_instant(raw)
    if ns is None:
        raise TimberyardError(
            "BAD_REQUEST",
            f"invalid {name} {_quoted(raw)}: expected ISO 8601 such as 2026-05-05T08:14:22.115Z",
        )
    return ns


def seed004_window(request: Request, now_ns: int) -> tuple[int | None, int | None, bool]:
    """[from, to) in ns and whether to read forward from `after` (the seed's window rules).

    `ts` shows milliseconds, so "strictly" is decided at millisecond precision:
    an entry whose `ts` equals `after` or `before` is never returned again.
    """
    before = _seed004_instant(request, "before")
    after = _seed004_instant(request, "after")
    to_ns = -(-before // MS) * MS if before is not None else None
    if after is not None:
        return (after // MS + 1) * MS, to_ns, True
    if to_ns is not None:
        return to_ns - HOUR, to_ns, False
    return now_ns - HOUR, now_ns + 1, False


def whole_milliseconds(entries: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The first `limit` entries, less a trailing millisecond that the limit split.

    The next request's `after`/`before` is that last `ts`, strictly: entries of a
    split millisecond would be skipped, so they are left for the next request
    (unless the whole page is one millisecond, which cannot be split anyway).
    """
    if len(entries) <= limit:
        return entries
    page = entries[:limit]
    cut = entries[limit]["timestamp"]
    return [e for e in page if e["timestamp"] != cut] or page


def seed004_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as seed 004 shows it; `instance_id` is "" when the entry has none."""
    return {
        "ts": iso_from_ns(entry["timestamp"] * MS, 3),
        "msg": entry["message"],
        "instance_id": entry.get("instanceId") or "",
    }


async def application_logs(request: Request) -> JSONResponse:
    """GET /v1/applications/{id}/logs: limit, before, after, instance_id; oldest first."""
    svc = services(request)
    app_id = request.path_params["id"]
    await application_key(request, app_id)
    limit = seed004_limit(request)
    from_ns, to_ns, forward = seed004_window(request, svc.clock.now_ns())
    flt = search.Filter(app_id, from_ns, to_ns)
    flt.instance_id = request.query_params.get("instance_id") or None
    # Forward from `after` (tailing), else the newest `limit` before the upper bound.
    page = await run_in_threadpool(
        search.find,
        svc.store,
        flt,
        limit=limit + 1,
        order="asc" if forward else "desc",
        with_total=False,
    )
    entries = whole_milliseconds(page["logs"], limit)
    if not forward:
        entries.reverse()
    return JSONResponse({"logs": [seed004_entry(e) for e in entries], "limit": limit})


routes = [
    Route("/logs", api_logs, methods=["GET"]),
    Route("/v1/applications/{id}/logs", application_logs, methods=["GET"]),
]
