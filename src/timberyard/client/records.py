"""`logging.LogRecord` -> Timberyard entry."""

from __future__ import annotations

import datetime
import json
import logging
import traceback
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra`.
STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
# `extra` keys that are canonical entry fields rather than free-form ones.
PROMOTED = {
    "userId": "userId", "user_id": "userId",
    "sessionId": "sessionId", "session_id": "sessionId",
    "requestId": "requestId", "request_id": "requestId",
    "flowId": "flowId", "flow_id": "flowId",
    "traceId": "traceId", "trace_id": "traceId",
    "spanId": "spanId", "span_id": "spanId",
    "stepIndex": "stepIndex", "step_index": "stepIndex",
    "instanceId": "instanceId", "instance_id": "instanceId",
    "version": "version",
    "tags": "tags",
}  # fmt: skip
MAX_MESSAGE_BYTES = 65536
EMPTY_MESSAGE = "(empty message)"


def level_of(levelno: int) -> str:
    """The Timberyard level of a logging level number."""
    if levelno >= logging.CRITICAL:
        return "fatal"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    if levelno >= logging.DEBUG:
        return "debug"
    return "trace"


def iso_time(created: float) -> str:
    """A record's creation time as ISO 8601 UTC with microseconds."""
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def json_safe(value: Any) -> Any:
    """The value if it is JSON as it is, else its repr (nested values alike)."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError, RecursionError):
        pass
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return repr(value)


def truncate(message: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """The message cut to at most `limit` UTF-8 bytes, so the server does not reject it."""
    if len(message) * 4 <= limit or len(message.encode()) <= limit:
        return message
    marker = "… [truncated]"
    cut = message.encode()[: limit - len(marker.encode())].decode("utf-8", "ignore")
    return cut + marker


def record_entry(
    record: logging.LogRecord, message: str, base: dict[str, Any], service: str | None
) -> dict[str, Any]:
    """The entry of a record: `base` (static fields) plus what the record says."""
    entry: dict[str, Any] = dict(base)
    entry["message"] = truncate(message) if message.strip() else EMPTY_MESSAGE
    entry["level"] = level_of(record.levelno)
    entry["timestamp"] = iso_time(record.created)
    entry["service"] = service or record.name.split(".", 1)[0] or "root"
    fields: dict[str, Any] = dict(entry.pop("fields", None) or {})
    fields["logger"] = record.name
    for name, value in vars(record).items():
        if name in STANDARD_ATTRS or name.startswith("_"):
            continue
        if name in PROMOTED:
            entry[PROMOTED[name]] = json_safe(value)
        else:
            fields[name] = json_safe(value)
    entry["fields"] = fields
    if record.exc_info and record.exc_info[0] is not None:
        kind, exc, tb = record.exc_info
        entry["errorName"] = kind.__name__
        entry["errorStack"] = "".join(traceback.format_exception(kind, exc, tb)).rstrip()
    elif record.exc_text:
        entry["errorStack"] = record.exc_text
    if record.stack_info:
        stack = entry.get("errorStack")
        entry["errorStack"] = f"{stack}\n{record.stack_info}" if stack else record.stack_info
    return entry
