"""Finding entries: filters, keyset pages and exact totals over the entry store."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .errors import TimberyardError
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
