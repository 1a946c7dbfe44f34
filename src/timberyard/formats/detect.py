"""Content sniffing: the format of a body when neither `?format=` nor Content-Type says.

In order, after leading whitespace and `/* ... */` comments:

1. `"format": "open-board-log-..."` in a JSON object -> `obl` (so does an
   unclosed leading comment: only OBL allows comments, and its parser reports it);
2. `"resourceLogs"` near the start of a JSON object -> `otlp`;
3. `[` -> `json`; `{` -> `jsonl` if the first line is a whole JSON object and
   more lines follow, else `json`;
4. `<PRI>` (one to three digits) at the start -> `syslog`;
5. a first line of field names separated by commas or tabs, one of them
   `message` -> `csv`;
6. anything else -> `text`. An empty body is `json`, the default format.
"""

from __future__ import annotations

import re

import msgspec

from .obl import comments_end

_OBL = re.compile(rb'"format"\s*:\s*"open-board-log-')
_PRI = re.compile(rb"<\d{1,3}>")
_NAME = re.compile(r"[A-Za-z_][\w.\-]*\Z", re.ASCII)
_decode = msgspec.json.Decoder().decode
# msgspec reports invalid UTF-8 and deep nesting outside DecodeError.
_JSON_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
_HEAD = 4096


def sniff(body: bytes) -> str:
    """The format a body looks like: json, jsonl, otlp, obl, syslog, csv or text."""
    start = comments_end(body)
    if start < 0:
        return "obl"
    if start >= len(body):
        return "json"
    first = body[start : start + 1]
    if first == b"{":
        if _OBL.search(body, start):
            return "obl"
        if b'"resourceLogs"' in body[start : start + _HEAD]:
            return "otlp"
        return "jsonl" if _several_objects(body, start) else "json"
    if first == b"[":
        return "json"
    if _PRI.match(body, start):
        return "syslog"
    if _csv_header(body, start):
        return "csv"
    return "text"


def _several_objects(body: bytes, start: int) -> bool:
    """Whether the first line is a whole JSON object and more lines follow."""
    end = body.find(b"\n", start)
    if end < 0 or not body[end:].strip():
        return False
    try:
        return isinstance(_decode(body[start:end]), dict)
    except _JSON_ERRORS:
        return False


def _csv_header(body: bytes, start: int) -> bool:
    """Whether the first line looks like a CSV header with a `message` column."""
    end = body.find(b"\n", start, start + _HEAD)
    line = body[start : end if end >= 0 else start + _HEAD].decode("utf-8", "replace").strip()
    delimiter = "\t" if line.count("\t") > line.count(",") else ","
    if delimiter not in line:
        return False
    names = [cell.strip().strip('"').strip() for cell in line.split(delimiter)]
    return "message" in (name.lower() for name in names) and all(
        _NAME.match(name) for name in names
    )
