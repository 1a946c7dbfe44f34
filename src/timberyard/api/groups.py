"""GET /v1/groups: error groups of the key's project, from the entry store."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ..alerts.fingerprint import group_title
from ..errors import TimberyardError
from ..model import LEVELS
from ..search import Filter
from ..storage.entries import EntryStore
from .common import JSONResponse, authenticate, int_param, services
from .query import build_filter

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
DEFAULT_BUCKETS = 24
MAX_BUCKETS = 500
DEFAULT_RANGE_NS = 24 * 3600 * 1_000_000_000


def find_groups(
    store: EntryStore, flt: Filter, end_ns: int, limit: int, buckets: int
) -> dict[str, Any]:
    """The groups of a filter's project and range, most recently seen first.

    The trend splits [from, end_ns) into `buckets` equal parts.
    """
    assert flt.from_ns is not None and flt.to_ns is not None
    step = max(-(-(end_ns - flt.from_ns) // buckets), 1)
    rows = store.error_groups(flt, step, limit, buckets)
    groups = []
    for row in rows:
        groups.append(
            {
                "fingerprint": row["fingerprint"],
                "title": group_title(row["message"]),
                "service": row["service"] or None,
                "errorName": row["error_name"] or None,
                "level": LEVELS[min(int(row["severity"]), len(LEVELS) - 1)],
                "count": int(row["count"]),
                "firstSeen": int(row["first_ns"]) // 1_000_000,
                "lastSeen": int(row["last_ns"]) // 1_000_000,
                "sample": row["sample"],
                "trend": [int(n) for n in row["trend"]],
            }
        )
    return {
        "groups": groups,
        "from": flt.from_ns // 1_000_000,
        "to": end_ns // 1_000_000,
        "bucketMs": step / 1_000_000,
    }


async def list_groups(request: Request) -> JSONResponse:
    """GET /v1/groups: q, from, to (default the last 24 hours), limit, buckets."""
    svc = services(request)
    key = authenticate(request, "read")
    flt = build_filter(request, key.project_id)
    end_ns = flt.to_ns
    if end_ns is None:
        end_ns = svc.clock.now_ns()
        flt.to_ns = end_ns + 1  # up to now inclusive: an entry stamped this instant counts
    if flt.from_ns is None:
        flt.from_ns = end_ns - DEFAULT_RANGE_NS
    if flt.from_ns >= end_ns:
        raise TimberyardError("BAD_REQUEST", "'from' must be before 'to'")
    limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    buckets = int_param(request, "buckets", DEFAULT_BUCKETS, 1, MAX_BUCKETS)
    result = await run_in_threadpool(find_groups, svc.store, flt, end_ns, limit, buckets)
    return JSONResponse(result)


routes = [Route("/v1/groups", list_groups, methods=["GET"])]
