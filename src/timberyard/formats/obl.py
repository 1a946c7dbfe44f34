"""Open Board Logging (.obl) bodies: AAC device logs, one entry per event.

The body is JSON (`"format": "open-board-log-0.1"`), optionally preceded by
`/* ... */` comment blocks, which are stripped. Every event of every session
becomes one entry, as seed 003 maps it:

- `message`: `Button: {label}`, `Utterance: {text}`, `Action: {action}`,
  `Note: {text}`; an event of another type gives `{type}: {text, label or
  action}`, and an event without a type is a `note` in a note session;
- `timestamp`: the event's; `source`: the root `source`; `userId`: the root
  `user_id`; `sessionId`: the session's `device_id`, else the root's;
- `data`: the event's other fields as they are (`spoken`, `button_id`,
  `board_id`, `buttons`, `destination_board_id`, `text`, `author_name`, ...),
  plus `event_id`, `event_type`, `session_id`, `session_type`,
  `session_started` and `session_ended`.

A missing `sessions` array, a session or event that is not an object, invalid
JSON (including invalid UTF-8, which JSON does not allow) or an unclosed
comment is a ParseError.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ..errors import ParseError
from .base import Parsed, line_of, over_limit
from .json_ import decode

_PREFIX = {"button": "Button", "utterance": "Utterance", "action": "Action", "note": "Note"}
# The event field that names each event type in its message.
_SUBJECT = {"button": "label", "utterance": "text", "action": "action", "note": "text"}
_FALLBACK_SUBJECTS = ("text", "label", "action", "vocalization")
# Session field -> its name in data.
_SESSION_KEYS = (
    ("id", "session_id"),
    ("type", "session_type"),
    ("started", "session_started"),
    ("ended", "session_ended"),
)
_NOT_NEWLINE = re.compile(rb"[^\n]")
_encode = msgspec.json.Encoder().encode


def comments_end(body: bytes) -> int:
    """Offset after the leading whitespace and `/* ... */` blocks; -1 if one is unclosed."""
    pos = 0
    end = len(body)
    if body.startswith(b"\xef\xbb\xbf"):
        pos = 3
    while True:
        while pos < end and body[pos] in b" \t\r\n":
            pos += 1
        if not body.startswith(b"/*", pos):
            return pos
        close = body.find(b"*/", pos + 2)
        if close < 0:
            return -1
        pos = close + 2


def parse(body: bytes, now_ns: int = 0, max_entries: int | None = None) -> Parsed:
    """Parse an Open Board Logging document into raw entries, one per event."""
    start = comments_end(body)
    if start < 0:
        opening = body.find(b"/*")
        line, column = line_of(body, opening)
        raise ParseError('unclosed comment "/*": expected "*/" before the JSON', line, column)
    if start >= len(body):
        raise ParseError('empty body: expected an Open Board Log such as {"format": ...}')
    # Blank the comments out (keeping newlines) so JSON errors keep their line numbers.
    try:
        root = decode(_NOT_NEWLINE.sub(b" ", body[:start]) + body[start:])
    except UnicodeDecodeError:
        # msgspec reports invalid UTF-8 in a string this way, not as a DecodeError.
        raise ParseError("invalid JSON (invalid UTF-8 in a string)") from None
    except RecursionError:
        raise ParseError("invalid JSON (nested too deeply)") from None
    if not isinstance(root, dict):
        raise ParseError(f"expected an Open Board Log object, got {_kind(root)}")
    sessions = root.get("sessions")
    if sessions is None:
        raise ParseError('missing "sessions": expected an Open Board Log with an array of sessions')
    if not isinstance(sessions, list):
        raise ParseError(f'expected "sessions" to be an array, got {_kind(sessions)}')
    shared: dict[str, Any] = {}
    if root.get("source") is not None:
        shared["source"] = root["source"]
    if root.get("user_id") is not None:
        shared["userId"] = root["user_id"]
    entries: list[Any] = []
    for s_index, session in enumerate(sessions):
        if not isinstance(session, dict):
            raise ParseError(f"session {s_index} must be an object, got {_kind(session)}")
        events = session.get("events")
        if events is None:
            continue
        if not isinstance(events, list):
            raise ParseError(f'"events" of session {s_index} must be an array, got {_kind(events)}')
        context = _session_context(session)
        device = session.get("device_id", root.get("device_id"))
        session_type = session.get("type")
        for e_index, event in enumerate(events):
            if not isinstance(event, dict):
                raise ParseError(
                    f"event {e_index} of session {s_index} must be an object, got {_kind(event)}"
                )
            entries.append(_entry(event, context, shared, device, session_type))
            if over_limit(len(entries), max_entries):
                return Parsed(entries, truncated=True)
    return Parsed(entries)


def _session_context(session: dict[str, Any]) -> dict[str, Any]:
    return {name: session[key] for key, name in _SESSION_KEYS if session.get(key) is not None}


def _entry(
    event: dict[str, Any],
    context: dict[str, Any],
    shared: dict[str, Any],
    device: Any,
    session_type: Any,
) -> dict[str, Any]:
    kind = event.get("type")
    if kind is None and session_type == "note":
        kind = "note"
    data: dict[str, Any] = {}
    if event.get("id") is not None:
        data["event_id"] = event["id"]
    if kind is not None:
        data["event_type"] = kind
    data.update(context)
    for key, value in event.items():
        if key not in ("id", "type", "timestamp"):
            data[key] = value
    entry: dict[str, Any] = {"message": _message(kind, event)}
    if event.get("timestamp") is not None:
        entry["timestamp"] = event["timestamp"]
    entry.update(shared)
    if device is not None:
        entry["sessionId"] = device
    entry["data"] = data
    return entry


def _message(kind: Any, event: dict[str, Any]) -> str:
    """`Button: hello`, `Utterance: hello world`, ... for an event."""
    name = _text(kind) if kind is not None else "event"
    prefix = _PREFIX.get(name, name)
    field = _SUBJECT.get(name)
    for key in (field, *_FALLBACK_SUBJECTS) if field else _FALLBACK_SUBJECTS:
        value = event.get(key)
        if value is not None and value != "":
            return f"{prefix}: {_text(value)}"
    return prefix


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _encode(value).decode()
    return str(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number")
