"""JSON bodies: {"logs": [...]}, {"entries": [...]}, a bare array or one object.

The document is decoded whole (in C) before its entries are counted; with
`max_entries`, a longer array is cut to `max_entries + 1` and the result says
it was truncated.
"""

from __future__ import annotations

import re

import msgspec

from ..errors import ParseError
from .base import Parsed, line_of, over_limit

_decode = msgspec.json.Decoder().decode
_BYTE = re.compile(r"\(byte (\d+)\)")


def decode(body: bytes) -> object:
    """Decode JSON, turning msgspec's error into a located ParseError."""
    try:
        return _decode(body)
    except msgspec.DecodeError as exc:
        text = str(exc)
        match = _BYTE.search(text)
        if match:
            line, column = line_of(body, int(match.group(1)))
            return _raise(f"invalid JSON ({_reason(text)})", line, column)
        return _raise(f"invalid JSON ({_reason(text)})", None, None)
    except UnicodeDecodeError as exc:
        line, column = line_of(body, exc.start)
        return _raise("invalid JSON (a string is not valid UTF-8)", line, column)
    except RecursionError:
        return _raise("invalid JSON (nested too deeply)", None, None)


def _reason(text: str) -> str:
    return _BYTE.sub("", text).replace("JSON is malformed: ", "").strip().rstrip(".").lower()


def _raise(message: str, line: int | None, column: int | None) -> object:
    raise ParseError(message, line, column)


def parse(body: bytes, now_ns: int = 0, max_entries: int | None = None) -> Parsed:
    """Parse a JSON body into raw entries."""
    if not body.strip():
        raise ParseError("empty body: expected a JSON object or array")
    value = decode(body)
    if isinstance(value, list):
        return _limited(value, max_entries)
    if isinstance(value, dict):
        for key in ("logs", "entries"):
            if key in value:
                entries = value[key]
                if not isinstance(entries, list):
                    raise ParseError(f'"{key}" must be an array of entries')
                return _limited(entries, max_entries)
        return _limited([value], max_entries)
    raise ParseError(f"expected a JSON object or array, got {type(value).__name__}")


def _limited(entries: list[object], max_entries: int | None) -> Parsed:
    """The entries, cut after `max_entries + 1` when there are more than the limit."""
    if over_limit(len(entries), max_entries):
        return Parsed(entries[: (max_entries or 0) + 1], truncated=True)
    return Parsed(entries)
