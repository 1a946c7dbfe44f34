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
from ..storage.reader import SELECT_SQL, to_entry
from .common import JSONResponse, authenticate, int_param, services
from .query import build_filter

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
DEFAULT_BUCKETS = 24
MAX_BUCKETS = 500
DEFAULT_RANGE_NS = 24 * 3600 * 1_000_000_000

# One row per group: totals in the range, the latest entry, and counts per bucket
# (countResample counts keys 0 .. buckets-1; an entry stamped exactly at the end of
# a default range, "now", goes into the last bucket).
_GROUPS_SQL = """
SELECT
  fingerprint,
  count() AS n,
  toUnixTimestamp64Nano(min(timestamp)) AS first_ns,
  toUnixTimestamp64Nano(max(timestamp)) AS last_ns,
  max(severity),
  any(service),
  any(error_name),
  argMax(message, (timestamp, id)),
  argMax(id, (timestamp, id)),
  countResample(0, {buckets}, 1)(
    least(intDiv(toUnixTimestamp64Nano(timestamp) - {{_from:Int64}}, {{_step:Int64}}), {last})
  )
FROM {table}
WHERE {where} AND fingerprint != ''
GROUP BY fingerprint
ORDER BY last_ns DESC, fingerprint
LIMIT {{_limit:UInt32}}
"""

_SAMPLES_SQL = """
SELECT {columns} FROM {table}
WHERE {where} AND has({{_ids:Array(UInt64)}}, id)
"""


def find_groups(
    store: EntryStore, flt: Filter, end_ns: int, limit: int, buckets: int
) -> dict[str, Any]:
    """The groups of a filter's project and range, most recently seen first.

    The trend splits [from, end_ns) into `buckets` equal parts.
    """
    assert flt.from_ns is not None and flt.to_ns is not None
    step = max(-(-(end_ns - flt.from_ns) // buckets), 1)
    where, params = flt.where()
    # Ints in [1, MAX_BUCKETS]: the parameters of an aggregate function must be literals.
    sql = _GROUPS_SQL.format(
        buckets=int(buckets), last=int(buckets) - 1, table=store.table, where=where
    )
    rows = store.query(sql, {**params, "_step": step, "_limit": limit})
    samples: dict[int, dict[str, Any]] = {}
    if rows:
        ids = [int(row[8]) for row in rows]
        sample_sql = _SAMPLES_SQL.format(columns=SELECT_SQL, table=store.table, where=where)
        for sample_row in store.query(sample_sql, {**params, "_ids": ids}):
            samples[int(sample_row[1])] = to_entry(sample_row)
    groups = []
    for (
        fp,
        count,
        first_ns,
        last_ns,
        severity,
        service,
        error_name,
        message,
        sample_id,
        trend,
    ) in rows:
        groups.append(
            {
                "fingerprint": fp,
                "title": group_title(message),
                "service": service or None,
                "errorName": error_name or None,
                "level": LEVELS[min(int(severity), len(LEVELS) - 1)],
                "count": int(count),
                "firstSeen": int(first_ns) // 1_000_000,
                "lastSeen": int(last_ns) // 1_000_000,
                "sample": samples.get(int(sample_id)),
                "trend": [int(n) for n in trend],
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
