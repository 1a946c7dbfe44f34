"""Finding entries: filters, keyset pages and exact totals over the entry store."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from .errors import TimberyardError
from .storage.entries import EntryStore
from .storage.filters import EntryFilter
from .storage.reader import parse_id
from .storage.reads import FACET_COLUMNS

# The filter of every read; kept under this name for callers of search.
Filter = EntryFilter


def encode_cursor(ts_ns: int, entry_id: int, order: str) -> str:
    """An opaque keyset cursor: the last entry's (timestamp, id) and the order."""
    raw = msgspec.json.encode([ts_ns, entry_id, order])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> tuple[int, int]:
    """The (timestamp, id) of a cursor, or a 400 when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts_ns, entry_id, cursor_order = msgspec.json.decode(raw, type=tuple[int, int, str])
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise TimberyardError(
            "BAD_REQUEST", f"invalid cursor {cursor[:80]!r}: pass nextCursor from a previous page"
        ) from None
    if not (0 <= ts_ns < 2**63 and 0 <= entry_id < 2**64):
        raise TimberyardError(
            "BAD_REQUEST",
            f"invalid cursor {cursor[:80]!r}: its position is out of range;"
            " pass nextCursor from a previous page",
        )
    if cursor_order != order:
        raise TimberyardError(
            "BAD_REQUEST", f"this cursor belongs to order={cursor_order}; pass the same order"
        )
    return ts_ns, entry_id


def find(
    store: EntryStore,
    flt: Filter,
    *,
    limit: int = 100,
    order: str = "desc",
    cursor: str | None = None,
    offset: int = 0,
    with_total: bool = True,
) -> dict[str, Any]:
    """A page of entries, newest first (or oldest first), with the exact total."""
    after = decode_cursor(cursor, order) if cursor else None
    total = store.count(flt) if with_total else None
    rows = store.page(flt, limit=int(limit) + 1, order=order, after=after, offset=offset)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        ts_ns, entry_id, _ = rows[-1]
        next_cursor = encode_cursor(ts_ns, entry_id, order)
    return {"logs": [entry for _, _, entry in rows], "total": total, "nextCursor": next_cursor}


def get(store: EntryStore, project_id: str, public_id: str) -> dict[str, Any] | None:
    """One entry of a project by its public id."""
    entry_id = parse_id(public_id)
    if entry_id is None:
        return None
    return store.get(project_id, entry_id)


# Bucket widths the histogram chooses from, in milliseconds.
INTERVALS_MS: list[int] = [
    1_000,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
    600_000,
    1_800_000,
    3_600_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    604_800_000,
]
MAX_BUCKETS = 2000
TARGET_BUCKETS = 120


def auto_interval(span_ms: int) -> int:
    """The smallest width from the ladder that gives at most ~120 buckets."""
    for width in INTERVALS_MS:
        if span_ms / width <= TARGET_BUCKETS:
            return width
    return INTERVALS_MS[-1] * max(1, span_ms // (INTERVALS_MS[-1] * TARGET_BUCKETS) + 1)


def histogram(store: EntryStore, flt: Filter, interval_ms: int) -> dict[str, Any]:
    """Counts per bucket and level over [from, to), empty buckets included.

    Without a query and with whole-minute buckets, the counts come from the
    per-minute projection (the range then covers whole minutes).
    """
    assert flt.from_ns is not None and flt.to_ns is not None
    origin = flt.from_ns // 1_000_000 // interval_ms * interval_ms
    end = flt.to_ns // 1_000_000
    rows = store.histogram(flt, origin, interval_ms, end)
    count = max(1, -(-(end - origin) // interval_ms))
    buckets: list[dict[str, Any]] = [
        {"t": origin + i * interval_ms, "total": 0, "counts": {}} for i in range(count)
    ]
    for index, level, n in rows:
        if 0 <= index < count:
            bucket = buckets[int(index)]
            bucket["counts"][level] = int(n)
            bucket["total"] += int(n)
    return {
        "from": origin,
        "to": end,
        "intervalMs": interval_ms,
        "buckets": buckets,
        "total": sum(b["total"] for b in buckets),
    }


FACET_SAMPLE = 50_000
FACET_VALUES = 10


def facets(store: EntryStore, flt: Filter, sample: int = FACET_SAMPLE) -> dict[str, Any]:
    """Field names with their top values and counts, over the newest matching entries.

    Keys inside `fields` appear as `fields.<key>` (top level of the object).
    """
    top, counts, scanned = store.facets(flt, sample, FACET_VALUES)
    order = {api: i for i, (_, api) in enumerate(FACET_COLUMNS)}
    found: dict[str, dict[str, Any]] = {}
    for name, value, n in top:
        entry = found.setdefault(name, {"name": name, "count": 0, "values": []})
        entry["values"].append({"value": value, "count": n})
    for name, n in counts.items():
        if name in found:
            found[name]["count"] = n
    ordered = sorted(
        found.values(),
        key=lambda f: (order.get(f["name"], len(order) + (f["name"] != "tag")), -f["count"]),
    )
    return {"fields": ordered, "rows": min(scanned, sample), "sampled": scanned > sample}


def related(
    store: EntryStore, project_id: str, column: str, value: str, limit: int = 10_000
) -> list[dict[str, Any]]:
    """Every entry of a session (time order) or a flow (step order) in a project."""
    kind = {"session_id": "session", "flow_id": "flow", "request_id": "request"}[column]
    return store.related(project_id, kind, value, limit)
