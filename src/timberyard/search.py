"""Finding entries: filters, keyset pages and exact totals over the entry store."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .errors import TimberyardError
from .model import LEVELS
from .storage.entries import EntryStore
from .storage.reader import SELECT_SQL, parse_id, to_entry


@dataclass
class Filter:
    """Which entries of one project: a time range and an SQL condition with parameters."""

    project_id: str
    from_ns: int | None = None
    to_ns: int | None = None
    condition: str = "1"
    params: dict[str, Any] = field(default_factory=dict)

    def where(self) -> tuple[str, dict[str, Any]]:
        parts = ["project_id = {_project:String}"]
        params: dict[str, Any] = {"_project": self.project_id, **self.params}
        if self.from_ns is not None:
            parts.append("timestamp >= fromUnixTimestamp64Nano({_from:Int64})")
            params["_from"] = self.from_ns
        if self.to_ns is not None:
            parts.append("timestamp < fromUnixTimestamp64Nano({_to:Int64})")
            params["_to"] = self.to_ns
        if self.condition not in ("1", ""):
            parts.append(f"({self.condition})")
        return " AND ".join(parts), params


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
    where, params = flt.where()
    total = None
    if with_total:
        total = int(store.query(f"SELECT count() FROM {store.table} WHERE {where}", params)[0][0])
    page_where = where
    if cursor:
        ts_ns, entry_id = decode_cursor(cursor, order)
        op = "<" if order == "desc" else ">"
        page_where += (
            f" AND (timestamp, id) {op} (fromUnixTimestamp64Nano({{_cts:Int64}}), {{_cid:UInt64}})"
        )
        params = {**params, "_cts": ts_ns, "_cid": entry_id}
    direction = "DESC" if order == "desc" else "ASC"
    sql = (
        f"SELECT {SELECT_SQL} FROM {store.table} WHERE {page_where}"
        f" ORDER BY timestamp {direction}, id {direction}"
        f" LIMIT {int(limit) + 1} OFFSET {int(offset)}"
    )
    rows = store.query(sql, params)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(int(last[0]), int(last[1]), order)
    return {"logs": [to_entry(r) for r in rows], "total": total, "nextCursor": next_cursor}


def get(store: EntryStore, project_id: str, public_id: str) -> dict[str, Any] | None:
    """One entry of a project by its public id."""
    entry_id = parse_id(public_id)
    if entry_id is None:
        return None
    rows = store.query(
        f"SELECT {SELECT_SQL} FROM {store.table}"
        " WHERE project_id = {p:String} AND id = {i:UInt64} LIMIT 1",
        {"p": project_id, "i": entry_id},
    )
    return to_entry(rows[0]) if rows else None


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
    if flt.condition in ("", "1") and interval_ms % 60_000 == 0:
        sql = (
            "SELECT intDiv(toUnixTimestamp(toStartOfMinute(timestamp)) * 1000 - {_origin:Int64},"
            " {_step:Int64}) AS b, severity, count() FROM "
            + store.table
            + " WHERE project_id = {_project:String}"
            " AND toStartOfMinute(timestamp) >= toDateTime({_fm:Int64})"
            " AND toStartOfMinute(timestamp) < toDateTime({_tm:Int64})"
            " GROUP BY b, severity"
        )
        rows: Any = [
            (b, LEVELS[severity], n)
            for b, severity, n in store.query(
                sql,
                {
                    "_project": flt.project_id,
                    "_origin": origin,
                    "_step": interval_ms,
                    "_fm": origin // 1000,
                    "_tm": -(-end // 60_000) * 60,
                },
            )
        ]
    else:
        where, params = flt.where()
        sql = (
            "SELECT intDiv(toUnixTimestamp64Milli(timestamp) - {_origin:Int64}, {_step:Int64})"
            f" AS b, level, count() FROM {store.table} WHERE {where} GROUP BY b, level"
        )
        rows = store.query(sql, {**params, "_origin": origin, "_step": interval_ms})
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


# Canonical columns offered as facets, with their API names.
FACET_COLUMNS: list[tuple[str, str]] = [
    ("level", "level"),
    ("service", "service"),
    ("environment", "environment"),
    ("dataset", "dataset"),
    ("host", "host"),
    ("instance_id", "instanceId"),
    ("version", "version"),
    ("error_name", "errorName"),
]
FACET_SAMPLE = 50_000
FACET_VALUES = 10


def facets(store: EntryStore, flt: Filter, sample: int = FACET_SAMPLE) -> dict[str, Any]:
    """Field names with their top values and counts, over the newest matching entries.

    Keys inside `fields` appear as `fields.<key>` (top level of the object).
    """
    where, params = flt.where()
    newest = (
        "SELECT level, service, environment, dataset, host, instance_id, version, error_name,"
        f" tags, fields FROM {store.table} WHERE {where}"
        f" ORDER BY timestamp DESC LIMIT {int(sample)}"
    )
    pairs = ", ".join(f"('{api}', toString({col}))" for col, api in FACET_COLUMNS)
    # One (name, value) pair per field an entry has: columns, tags, keys of `fields`.
    pairs_of_entry = f"""arrayFilter(kv -> kv.2 != '', arrayConcat(
        [{pairs}],
        arrayMap(t -> ('tag', t), CAST(tags, 'Array(String)')),
        arrayMap(kv -> (concat('fields.', kv.1),
                        if(JSONType(kv.2) = 'String', JSONExtractString(kv.2), kv.2)),
                 JSONExtractKeysAndValuesRaw(fields))))"""
    sql = f"""
        SELECT kv.1 AS name, kv.2 AS value, count() AS c
        FROM (SELECT arrayJoin({pairs_of_entry}) AS kv FROM ({newest}))
        GROUP BY name, value
        ORDER BY name, c DESC, value
        LIMIT {FACET_VALUES} BY name
    """
    rows = store.query(sql, params)
    order = {api: i for i, (_, api) in enumerate(FACET_COLUMNS)}
    found: dict[str, dict[str, Any]] = {}
    for name, value, n in rows:
        entry = found.setdefault(name, {"name": name, "count": 0, "values": []})
        entry["values"].append({"value": value, "count": int(n)})
    counts = store.query(
        f"SELECT kv.1 AS name, count() FROM (SELECT arrayJoin(arrayDistinct(arrayMap(x -> x.1,"
        f" {pairs_of_entry}))) AS kv1, tuple(kv1) AS kv FROM ({newest})) GROUP BY name",
        params,
    )
    for name, n in counts:
        if name in found:
            found[name]["count"] = int(n)
    scanned = int(
        store.query(
            f"SELECT count() FROM (SELECT 1 FROM {store.table} WHERE {where}"
            f" LIMIT {int(sample) + 1})",
            params,
        )[0][0]
    )
    ordered = sorted(
        found.values(),
        key=lambda f: (order.get(f["name"], len(order) + (f["name"] != "tag")), -f["count"]),
    )
    return {"fields": ordered, "rows": min(scanned, sample), "sampled": scanned > sample}


def related(
    store: EntryStore, project_id: str, column: str, value: str, limit: int = 10_000
) -> list[dict[str, Any]]:
    """Every entry of a session (time order) or a flow (step order) in a project."""
    order = {"session_id": "timestamp, id", "flow_id": "ifNull(step_index, 65535), timestamp, id"}
    sql = (
        f"SELECT {SELECT_SQL} FROM {store.table}"
        f" WHERE project_id = {{p:String}} AND {column} = {{v:String}}"
        f" ORDER BY {order[column]} LIMIT {int(limit)}"
    )
    return [to_entry(r) for r in store.query(sql, {"p": project_id, "v": value})]
