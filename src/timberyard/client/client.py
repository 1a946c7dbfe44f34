"""`Client`: ingest entries or raw bodies, search, and tail a project."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .formats import canonical, content_type
from .tail import follow
from .transport import Session

MAX_ENTRIES = 1000
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_PAGE = 10000


def to_json(value: Any) -> str:
    """JSON text of an entry; dates become ISO 8601, anything else unknown its str()."""
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def query_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters without None values; booleans as true/false; `from_` as `from`."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if name.endswith("_") and name[:-1] in ("from", "format"):
            name = name[:-1]
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class Client(Session):
    """A project's data API: `Client("http://127.0.0.1:8080", "sk_...")`."""

    def ingest(self, entries: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """Send entries as JSON in batches of at most 1000; the combined result."""
        items = [entries] if isinstance(entries, Mapping) else entries
        total: dict[str, Any] = {"success": True, "count": 0, "accepted": 0, "rejected": 0}
        errors: list[dict[str, Any]] = []
        offset = 0
        for batch in batches(items):
            body = ('{"logs":[' + ",".join(batch) + "]}").encode()
            result = self.request(
                "POST", "/v1/logs", content=body, headers={"Content-Type": "application/json"}
            )
            count = int(result.get("count", result.get("accepted", 0)))
            total["count"] += count
            total["accepted"] += int(result.get("accepted", count))
            total["rejected"] += int(result.get("rejected", 0))
            total["limitReached"] = total.get("limitReached", False) or bool(
                result.get("limitReached")
            )
            total["timestamp"] = result.get("timestamp")
            for error in result.get("errors", []):
                errors.append({**error, "index": error.get("index", 0) + offset})
            offset += len(batch)
        if errors:
            total["errors"] = errors
        return total

    def ingest_raw(self, body: str | bytes, format: str, **defaults: Any) -> dict[str, Any]:
        """POST a pre-formatted body (seed 003): `ingest_raw(csv, "csv", source="nginx")`."""
        name = canonical(format)
        content = body.encode() if isinstance(body, str) else bytes(body)
        params = query_params({"format": name, **defaults})
        result: dict[str, Any] = self.request(
            "POST",
            "/v1/logs",
            content=content,
            params=params,
            headers={"Content-Type": content_type(name)},
        )
        return result

    def search(self, q: str = "", **params: Any) -> dict[str, Any]:
        """One page of GET /v1/logs: `search("level:error", from_="-1h", limit=50)`."""
        result: dict[str, Any] = self.request(
            "GET", "/v1/logs", params=query_params({"q": q or None, **params})
        )
        return result

    def iter_logs(
        self, q: str = "", limit: int | None = None, page_size: int = MAX_PAGE, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Entries of a search across pages (following `nextCursor`) up to `limit`."""
        remaining = limit
        cursor: str | None = None
        page_size = max(1, min(page_size, MAX_PAGE))
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(remaining, page_size)
            page = self.search(q, **{**params, "limit": size, "cursor": cursor})
            logs = page.get("logs", [])
            yield from logs
            if remaining is not None:
                remaining -= len(logs)
            cursor = page.get("nextCursor")
            if not cursor or not logs:
                return

    def tail(
        self,
        q: str = "",
        *,
        last_event_id: str | None = None,
        on_reconnect: Callable[[str], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """New matching entries as they arrive (GET /v1/tail), resuming after disconnects."""
        return follow(self, q, last_event_id=last_event_id, on_reconnect=on_reconnect)


def batches(
    entries: Iterable[Mapping[str, Any]],
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[list[str]]:
    """Entries encoded as JSON, grouped under both the count and the size limit."""
    batch: list[str] = []
    size = 0
    for entry in entries:
        text = to_json(dict(entry))
        if batch and (len(batch) >= max_entries or size + len(text) > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(text)
        size += len(text) + 1
    if batch:
        yield batch
