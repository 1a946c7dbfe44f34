"""Split inputs into request bodies: whole lines (CSV records with their header) or JSON entries.

Pure functions over bytes: `line_chunks` for jsonl, syslog, text and csv;
`whole_chunks` for json (re-split into `{"logs": [...]}` bodies when it holds a
list of entries) and obl (sent as it is). Each chunk remembers the file line or
entry index of what it holds, so that the server's errors point into the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

LINE_FORMATS = ("jsonl", "syslog", "text", "csv")
WHOLE_FORMATS = ("json", "obl")
MAX_ENTRIES = 1000
MAX_BYTES = 5 * 1024 * 1024

EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "text",
    ".syslog": "syslog",
    ".obl": "obl",
}
_SYSLOG = re.compile(rb"^<\d{1,3}>")
_QUOTE = ord('"')


@dataclass
class Record:
    """One entry's bytes: physical lines (ending in a newline), or one encoded JSON entry."""

    line: int  # 1-based file line where it starts; 0 for JSON entries
    data: bytes
    index: int = 0  # position among the file's entries (JSON)


@dataclass
class Chunk:
    """The records of one request, with what is needed to rebuild or locate them."""

    source: str
    fmt: str
    records: list[Record]
    header: Record | None = None  # CSV: repeated in every chunk
    raw: bool = False  # the body is records[0].data as it is (obl, unsplittable json)
    nbytes: int = field(default=0)

    @property
    def count(self) -> int:
        """Entries in the chunk; 0 when only the server knows (raw bodies)."""
        return 0 if self.raw else len(self.records)

    def body(self) -> bytes:
        """The request body."""
        if self.raw:
            return self.records[0].data
        if self.fmt == "json":
            return b'{"logs":[' + b",".join(r.data for r in self.records) + b"]}"
        head = self.header.data if self.header else b""
        return head + b"".join(r.data for r in self.records)

    def record_at(self, body_line: int) -> Record | None:
        """The record that body line `body_line` (1-based) belongs to; None for the header."""
        if self.fmt not in LINE_FORMATS:
            return None
        line = 1
        if self.header is not None:
            line += self.header.data.count(b"\n")
            if body_line < line:
                return None
        for record in self.records:
            line += record.data.count(b"\n")
            if body_line < line:
                return record
        return None

    def locate(self, line: int | None = None, index: int | None = None) -> str:
        """`file:LINE` or `file: entry N` for a server error's line or index."""
        if self.raw:
            if line is not None:
                return f"{self.source}:{line}"
            return f"{self.source}: entry {index + 1}" if index is not None else self.source
        record = self.record_at(line) if line is not None else None
        if record is None and line is not None and self.header is not None:
            if line <= self.header.data.count(b"\n"):
                return f"{self.source}:{self.header.line}"
        if record is None and index is not None and 0 <= index < len(self.records):
            record = self.records[index]
        if record is None:
            return self.source
        if self.fmt == "json":
            return f"{self.source}: entry {record.index + 1}"
        return f"{self.source}:{record.line}"

    def span(self) -> str:
        """The lines or entries the chunk covers, for messages about all of it."""
        if self.raw or not self.records:
            return self.source
        first, last = self.records[0], self.records[-1]
        if self.fmt == "json":
            return f"{self.source}: entries {first.index + 1}-{last.index + 1}"
        end = last.line + max(0, last.data.count(b"\n") - 1)
        return f"{self.source}:{first.line}-{end}"

    def without(self, record: Record) -> Chunk | None:
        """The chunk minus one record; None when nothing is left."""
        rest = [r for r in self.records if r is not record]
        return replace(self, records=rest, nbytes=0) if rest else None

    def halves(self) -> tuple[Chunk, Chunk]:
        """Two chunks of half the records each (for a server with lower limits)."""
        middle = len(self.records) // 2
        return (
            replace(self, records=self.records[:middle], nbytes=self.nbytes),
            replace(self, records=self.records[middle:], nbytes=0),
        )


def guess_format(name: str, first_line: bytes) -> str:
    """The format of an input from its file extension, else from its first line."""
    lower = name.lower().removesuffix(".gz")
    for ext, fmt in EXTENSIONS.items():
        if lower.endswith(ext):
            return fmt
    return sniff(first_line)


def sniff(first_line: bytes) -> str:
    """jsonl for a JSON object line, json for other JSON starts, syslog for `<PRI>`, else text."""
    text = first_line.lstrip(b"\xef\xbb\xbf").strip()
    if text.startswith(b"{"):
        try:
            return "jsonl" if isinstance(json.loads(text), dict) else "json"
        except ValueError:
            return "json"
    if text.startswith(b"["):
        return "json"
    if _SYSLOG.match(text):
        return "syslog"
    return "text"


def records(lines: Iterable[tuple[int, bytes] | None], fmt: str) -> Iterator[Record | None]:
    """Records of numbered physical lines; blank lines are skipped, None (a tick) passes on."""
    if fmt == "csv":
        yield from _csv_records(lines)
        return
    for item in lines:
        if item is None:
            yield None
            continue
        number, data = item
        if data.strip():
            yield Record(number, data if data.endswith(b"\n") else data + b"\n")


def _csv_records(lines: Iterable[tuple[int, bytes] | None]) -> Iterator[Record | None]:
    """CSV records: a quoted field may span lines, so a record ends where its quotes close."""
    delimiter: int | None = None
    pending: list[bytes] = []
    start = 0
    quoted = False
    for item in lines:
        if item is None:
            yield None
            continue
        number, data = item
        if not data.endswith(b"\n"):
            data += b"\n"
        if not pending:
            if not data.strip():
                continue
            start = number
            if delimiter is None:
                delimiter = 9 if data.count(b"\t") > data.count(b",") else 44
        pending.append(data)
        if quoted or _QUOTE in data:
            quoted = _still_quoted(data, quoted, delimiter or 44)
        if not quoted:
            yield Record(start, b"".join(pending))
            pending = []
    if pending:
        yield Record(start, b"".join(pending))


def _still_quoted(line: bytes, quoted: bool, delimiter: int) -> bool:
    """Whether a quoted field is still open after `line` (quotes open only at a field's start)."""
    i, n = 0, len(line)
    at_field_start = not quoted
    while i < n:
        if quoted:
            j = line.find(b'"', i)
            if j < 0:
                return True
            if j + 1 < n and line[j + 1] == _QUOTE:
                i = j + 2
                continue
            quoted, at_field_start, i = False, False, j + 1
            continue
        c = line[i]
        if c == _QUOTE and at_field_start:
            quoted = True
        else:
            at_field_start = c == delimiter
        i += 1
    return quoted


def line_chunks(
    items: Iterable[Record | None],
    source: str,
    fmt: str,
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> Iterator[Chunk]:
    """Chunks of at most `max_entries` records and about `max_bytes`; a tick ends a chunk early."""
    header: Record | None = None
    batch: list[Record] = []
    size = 0
    for item in items:
        if item is None:
            if batch:
                yield Chunk(source, fmt, batch, header, nbytes=size)
                batch, size = [], 0
            continue
        if fmt == "csv" and header is None:
            header = item
            continue
        if batch and (len(batch) >= max_entries or size + len(item.data) > max_bytes):
            yield Chunk(source, fmt, batch, header, nbytes=size)
            batch, size = [], 0
        batch.append(item)
        size += len(item.data)
    if batch:
        yield Chunk(source, fmt, batch, header, nbytes=size)


def whole_chunks(
    data: bytes,
    source: str,
    fmt: str,
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> Iterator[Chunk]:
    """A JSON document's entries in `{"logs": [...]}` chunks; anything else as one raw body."""
    entries = _json_entries(data) if fmt == "json" else None
    if entries is None:
        yield Chunk(source, fmt, [Record(1, data)], raw=True, nbytes=len(data))
        return
    batch: list[Record] = []
    size = 0
    share = len(data) / max(1, len(entries))
    for index, entry in enumerate(entries):
        encoded = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
        if batch and (len(batch) >= max_entries or size + len(encoded) > max_bytes):
            yield Chunk(source, fmt, batch, nbytes=round(share * len(batch)))
            batch, size = [], 0
        batch.append(Record(0, encoded, index))
        size += len(encoded) + 1
    if batch:
        yield Chunk(source, fmt, batch, nbytes=round(share * len(batch)))


def _json_entries(data: bytes) -> list[object] | None:
    """The entries of a JSON body (array, `logs`, `entries`, one object); None to send it raw."""
    try:
        value = json.loads(data.lstrip(b"\xef\xbb\xbf"))
    except (ValueError, RecursionError):
        return None  # the server reports where it is malformed
    if isinstance(value, list):
        return value or None
    if not isinstance(value, dict) or "resourceLogs" in value:
        return None
    for name in ("logs", "entries"):
        if name in value:
            inner = value[name]
            # Anything beside the list is something only the server knows how to read.
            return inner if isinstance(inner, list) and inner and len(value) == 1 else None
    return [value]
