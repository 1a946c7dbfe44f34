"""NDJSON bodies: one JSON object per line; empty lines are skipped."""

from __future__ import annotations

import msgspec

from ..errors import ParseError
from .base import Parsed

_decode = msgspec.json.Decoder().decode


def parse(body: bytes, now_ns: int = 0) -> Parsed:
    """Parse NDJSON into raw entries, one per non-empty line."""
    raw_lines = body.split(b"\n")
    kept: list[bytes] = []
    numbers: list[int] = []
    for number, line in enumerate(raw_lines, 1):
        if line.strip():
            kept.append(line)
            numbers.append(number)
    if not kept:
        raise ParseError("empty body: expected one JSON object per line")
    try:
        # Fast path: the whole body as one array, decoded in C.
        entries = _decode(b"[" + b",".join(kept) + b"]")
        if len(entries) == len(kept):
            return Parsed(entries, numbers)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass
    entries = []
    for line, number in zip(kept, numbers, strict=True):
        try:
            entries.append(_decode(line))
        except msgspec.DecodeError:
            raise ParseError("invalid JSON", number) from None
        except UnicodeDecodeError:
            raise ParseError("invalid JSON (a string is not valid UTF-8)", number) from None
        except RecursionError:
            raise ParseError("invalid JSON (nested too deeply)", number) from None
    return Parsed(entries, numbers)
