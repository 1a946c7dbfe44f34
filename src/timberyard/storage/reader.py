"""Reading entries back: the SELECT list and the row -> API entry mapping."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ..model import CAMEL, iso_from_ns

# (SQL expression, output name) for every column an entry shows.
SELECT: list[tuple[str, str]] = [
    ("toUnixTimestamp64Nano(timestamp)", "timestamp_ns"),
    ("id", "id"),
    ("toUnixTimestamp64Milli(received_at)", "received_at"),
    ("project_id", "project_id"),
    ("level", "level"),
    ("severity", "severity"),
    ("message", "message"),
    ("service", "service"),
    ("environment", "environment"),
    ("dataset", "dataset"),
    ("host", "host"),
    ("instance_id", "instance_id"),
    ("version", "version"),
    ("user_id", "user_id"),
    ("session_id", "session_id"),
    ("request_id", "request_id"),
    ("flow_id", "flow_id"),
    ("trace_id", "trace_id"),
    ("span_id", "span_id"),
    ("step_index", "step_index"),
    ("error_name", "error_name"),
    ("error_stack", "error_stack"),
    ("tags", "tags"),
    ("fields", "fields"),
    ("fingerprint", "fingerprint"),
]
SELECT_SQL = ", ".join(expr for expr, _ in SELECT)
NAMES = [name for _, name in SELECT]
_decode = msgspec.json.Decoder().decode
# int(text, 16) alone would take a sign, underscores and surrounding spaces.
_PUBLIC_ID = re.compile(r"[0-9a-fA-F]{16}")


def format_id(value: int) -> str:
    """The public form of an entry id: 16 lowercase hex digits."""
    return f"{value:016x}"


def parse_id(text: str) -> int | None:
    """The numeric id of a public id (exactly 16 hex digits, no sign), or None."""
    if not _PUBLIC_ID.fullmatch(text):
        return None
    return int(text, 16)


def to_entry(row: Any) -> dict[str, Any]:
    """An entry as the API shows it: camelCase keys, `fields` as the JSON that was sent."""
    values = dict(zip(NAMES, row, strict=True))
    ns = values.pop("timestamp_ns")
    entry: dict[str, Any] = {
        "id": format_id(values.pop("id")),
        "timestamp": ns // 1_000_000,
        "time": iso_from_ns(ns, 9 if ns % 1_000_000 else 3),
    }
    raw_fields = values.pop("fields")
    for name, value in values.items():
        if value == "":
            value = None
        entry[CAMEL.get(name, name)] = value
    entry["fields"] = _decode(raw_fields) if raw_fields else {}
    return entry
