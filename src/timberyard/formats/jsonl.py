"""NDJSON bodies: one JSON object per line; empty lines are skipped.

With `max_entries`, only the first `max_entries + 1` non-empty lines are read
and decoded, and the result says it was truncated.
"""

from __future__ import annotations

import msgspec

from ..errors import ParseError
from .base import Parsed, over_limit

_decode = msgspec.json.Decoder().decode


def parse(body: bytes, now_ns: int = 0, max_entries: int | None = None) -> Parsed:
    """Parse NDJSON into raw entries, one per non-empty line."""
    kept, numbers, truncated = _lines(body, max_entries)
    if not kept:
        raise ParseError("empty body: expected one JSON object per line")
    if truncated:
        return Parsed(_decode_lines(kept, numbers), numbers, truncated=True)
    try:
        # Fast path: the whole body as one array, decoded in C.
        entries = _decode(b"[" + b",".join(kept) + b"]")
        if len(entries) == len(kept):
            return Parsed(entries, numbers)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass
    return Parsed(_decode_lines(kept, numbers), numbers)


def _lines(body: bytes, max_entries: int | None) -> tuple[list[bytes], list[int], bool]:
    """The non-empty lines and their numbers; past `max_entries` it stops, saying so."""
    kept: list[bytes] = []
    numbers: list[int] = []
    if max_entries is None or body.count(b"\n") < max_entries:
        for number, line in enumerate(body.split(b"\n"), 1):
            if line.strip():
                kept.append(line)
                numbers.append(number)
        return kept, numbers, over_limit(len(kept), max_entries)
    # Possibly far more lines than the limit: find them one at a time.
    pos, number = 0, 1
    while pos <= len(body):
        end = body.find(b"\n", pos)
        if end < 0:
            end = len(body)
        line = body[pos:end]
        if line.strip():
            kept.append(line)
            numbers.append(number)
            if over_limit(len(kept), max_entries):
                return kept, numbers, True
        pos, number = end + 1, number + 1
    return kept, numbers, False


def _decode_lines(kept: list[bytes], numbers: list[int]) -> list[object]:
    """Each line decoded on its own, so that an error names its line."""
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
    return entries
