"""CSV bodies: a header row of field names, then one entry per record.

- The delimiter is a tab if the header line has more tabs than commas,
  otherwise a comma. Quoted fields may hold delimiters, `""` and newlines;
  line endings may be LF, CRLF or CR.
- Header names are matched case-insensitively against the entry vocabulary
  (`message`, `level`, `timestamp`, `tags`, `stepIndex`, `source`, `service`,
  `userId`, ...): those become top-level keys. `data`, `fields` and `details`
  columns holding a JSON object are merged into `data`; a `data.x` (or
  `fields.x`, `details.x`) column becomes `data.x`; every other column goes
  into `data` under its own name, as a string.
- Empty cells are left out. Cells other than `message` are trimmed.
  `timestamp` cells of digits become integers (milliseconds or any unit
  normalisation recognises); a cell in a timestamp form of the text format
  (ISO 8601 with or without `T`, fraction and offset such as `+02:00` or
  `+0200`; `MM/DD/YYYY HH:MM:SS`) becomes ISO 8601 text; other timestamps
  pass through as text for normalisation to judge.
  `tags` cells are split on commas and semicolons.
- Blank records are skipped. A record with a different number of cells than
  the header, an unterminated quoted field, or an empty, missing or duplicate
  (ignoring case) header name is a ParseError with the line where the record
  starts.

Bytes that are not UTF-8 become U+FFFD rather than failing the request.
With `max_entries`, parsing stops after `max_entries + 1` records and the
result says it was truncated. The csv module's process-wide field size
limit (128 KiB by default) is raised to 16 MiB, above any accepted body,
so a long cell is judged by the entry limits in normalisation rather than
failing the whole body.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import msgspec

from ..errors import ParseError
from ..model import STRING_FIELDS
from .base import Parsed, over_limit
from .text import timestamp as text_timestamp

# Column kinds.
_TOP, _MESSAGE, _TIMESTAMP, _TAGS, _OBJECT, _DATA = range(6)

# lower-case header name -> (kind, key in the entry or in data)
_KNOWN: dict[str, tuple[int, str]] = {
    alias.lower(): (_TOP, alias) for aliases in STRING_FIELDS.values() for alias in aliases
}
_KNOWN.update(
    {
        "message": (_MESSAGE, "message"),
        "level": (_TOP, "level"),
        "timestamp": (_TIMESTAMP, "timestamp"),
        "tags": (_TAGS, "tags"),
        "stepindex": (_TOP, "stepIndex"),
        "step_index": (_TOP, "step_index"),
        "data": (_OBJECT, "data"),
        "fields": (_OBJECT, "fields"),
        "details": (_OBJECT, "details"),
    }
)
_NESTED_PREFIXES = ("data.", "fields.", "details.")
_TAG_SPLIT = re.compile(r"[,;]")
# ISO 8601 in UTC as most exporters write it: text_timestamp gives it back unchanged.
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z", re.ASCII)
_decode_json = msgspec.json.Decoder().decode
# Above the largest body Timberyard accepts (10 MiB by default).
_FIELD_LIMIT = 16 * 1024 * 1024
if csv.field_size_limit() < _FIELD_LIMIT:
    csv.field_size_limit(_FIELD_LIMIT)
_ERRORS = {
    "unexpected end of data": "unterminated quoted field: expected a closing '\"'",
}


def parse(body: bytes, now_ns: int = 0, max_entries: int | None = None) -> Parsed:
    """Parse CSV or TSV with a header row into raw entries."""
    text = body.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, strict=True, skipinitialspace=True
    )
    header = _next(reader, 1)
    if header is None or not any(cell.strip() for cell in header):
        raise ParseError("empty header: expected a first row of field names, like level,message", 1)
    columns = _columns(header)
    width = len(columns)
    entries: list[Any] = []
    numbers: list[int] = []
    while True:
        start = reader.line_num + 1
        row = _next(reader, start)
        if row is None:
            break
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            raise ParseError(
                f"record {_quote(delimiter.join(row))} has {len(row)} cells:"
                f" expected {width} as in the header",
                start,
            )
        entries.append(_entry(columns, row))
        numbers.append(start)
        if over_limit(len(entries), max_entries):
            return Parsed(entries, numbers, truncated=True)
    return Parsed(entries, numbers)


def _next(reader: Any, start: int) -> list[str] | None:
    """The next record, or None at the end; csv errors become ParseError."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        reason = str(exc)
        if reason.startswith("field larger than field limit"):
            reason = f"a field is longer than {csv.field_size_limit()} characters"
        raise ParseError(f"invalid CSV: {_ERRORS.get(reason, reason)}", start) from None


def _columns(header: list[str]) -> list[tuple[int, str]]:
    """The kind and key of each header column."""
    columns: list[tuple[int, str]] = []
    seen: set[str] = set()
    for cell in header:
        name = cell.strip()
        if not name:
            raise ParseError(
                f"empty column name in header {_quote(','.join(header))}:"
                " expected a field name for every column",
                1,
            )
        lower = name.lower()
        if lower in seen:
            raise ParseError(f"duplicate column {_quote(name)} in header", 1)
        seen.add(lower)
        known = _KNOWN.get(lower)
        if known is not None:
            columns.append(known)
        elif lower.startswith(_NESTED_PREFIXES) and name.split(".", 1)[1]:
            columns.append((_DATA, name.split(".", 1)[1]))
        else:
            columns.append((_DATA, name))
    return columns


def _entry(columns: list[tuple[int, str]], row: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for (kind, key), cell in zip(columns, row, strict=True):
        if kind == _MESSAGE:
            if cell and not cell.isspace():
                entry["message"] = cell
            continue
        cell = cell.strip()
        if not cell:
            continue
        if kind == _TOP:
            entry[key] = cell
        elif kind == _DATA:
            data[key] = cell
        elif kind == _TIMESTAMP:
            # Digits stay exact as an integer; a float would round nanoseconds.
            if cell.isascii() and cell.isdigit():
                entry["timestamp"] = int(cell)
            elif _CANONICAL.fullmatch(cell):
                entry["timestamp"] = cell  # what text_timestamp would give, at a third of the cost
            else:
                entry["timestamp"] = text_timestamp(cell) or cell
        elif kind == _TAGS:
            entry["tags"] = [tag for tag in (t.strip() for t in _TAG_SPLIT.split(cell)) if tag]
        else:
            value = _object(cell)
            if value is None:
                data[key] = cell
            else:
                data.update(value)
    if data:
        entry["data"] = data
    return entry


def _object(cell: str) -> dict[str, Any] | None:
    """A JSON object cell, or None if the cell is something else."""
    if not cell.startswith("{"):
        return None
    try:
        value = _decode_json(cell)
    except (msgspec.DecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _quote(text: str, limit: int = 60) -> str:
    """The offending input in double quotes, shortened for an error message."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
