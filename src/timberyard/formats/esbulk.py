"""Elasticsearch `_bulk` bodies: NDJSON action/document pairs, documents mapped from ECS.

ECS fields map to columns: `@timestamp`, `message`, `log.level`, `service.name`,
`service.environment`, `host.name`/`host.hostname`, `trace.id`, `span.id`,
`error.type`, `error.stack_trace` (and `error.message` as the message when there is
none), `event.dataset` (else the index name) -> dataset; both dotted keys and nested
objects. rsyslog's default omelasticsearch template (`fromhost`, `priority`,
`timereported`) is understood too. The rest of a document goes into `fields` as it
is, numbers kept.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

import msgspec

from .. import model
from ..errors import ParseError
from ..model import Limits
from .shipper import level_of

_fastmodel: Any
try:
    from .. import _fastmodel
except ImportError:  # built without a C compiler: parse() and entry() do all the work
    _fastmodel = None

# Operations whose documents are stored, and those refused item by item.
STORED = ("index", "create")
REFUSED = ("delete", "update")
_OPS = frozenset(STORED + REFUSED)

_decoder = msgspec.json.Decoder()
_decode = _decoder.decode
_decode_lines = _decoder.decode_lines

# Column of our input vocabulary -> the ECS paths that name it, the first present wins.
ECS_COLUMNS: dict[str, tuple[str, ...]] = {
    "timestamp": ("@timestamp", "timestamp", "timereported"),
    "message": ("message", "msg", "error.message"),
    "level": ("log.level", "level", "severity", "priority"),
    "service": ("service.name", "service"),
    "environment": ("service.environment", "environment", "env"),
    "host": ("host.name", "host.hostname", "host", "hostname", "fromhost"),
    "traceId": ("trace.id",),
    "spanId": ("span.id",),
    "errorName": ("error.type",),
    "errorStack": ("error.stack_trace",),
    "dataset": ("event.dataset",),
}
# Each path, flat (`"log.level": ...`) or nested (`"log": {"level": ...}`): (column, rank).
_PATHS: dict[str, tuple[str, int]] = {
    path: (column, rank) for column, paths in ECS_COLUMNS.items() for rank, path in enumerate(paths)
}
_NESTED: dict[str, dict[str, tuple[str, int]]] = {}
for _path, _spec in _PATHS.items():
    _head, _dot, _tail = _path.partition(".")
    if _dot:
        _NESTED.setdefault(_head, {})[_tail] = _spec
if _fastmodel is not None:
    _fastmodel.configure_ecs({path: spec[0] for path, spec in _PATHS.items()}, set(_NESTED))


@dataclass(slots=True)
class Item:
    """One action of a bulk request: its document as a raw entry, or why it is refused."""

    op: str
    index: str | None
    id: str | None
    line: int
    entry: dict[str, Any] | None = None
    error: tuple[str, str] | None = None  # (Elasticsearch error type, reason)


def parse_plain(
    values: list[Any], index: str | None = None, max_items: int | None = None
) -> tuple[list[Item], list[dict[str, Any]]] | None:
    """The items and their documents, unmapped, when every line of the body is plain.

    `values` are the body's lines as `decoded` gives them. Plain: index and create
    actions naming an index, each followed by an object, no blank line, at most
    `max_items` pairs; the compiled path takes those (`EcsDocs` maps and normalises
    the documents). Anything else, or a build without the compiled path, is None:
    `parse` decides, with its errors.
    """
    if _fastmodel is None:
        return None
    limit = sys.maxsize if max_items is None else max_items
    plain: tuple[list[Item], list[dict[str, Any]]] | None = _fastmodel.bulk_plain(
        values, index, limit, Item
    )
    return plain


class EcsDocs:
    """ECS documents as the ingestion use-case takes them (`Ingestor.prepare(mapping=...)`).

    `fast` is the compiled `normalise(entry(doc, index))` of each document, None where
    it is unsure; `raw` is `entry`, the one definition, for those.
    """

    def __init__(self, indexes: list[str | None]) -> None:
        self.indexes = indexes

    def fast(
        self,
        docs: list[Any],
        defaults: dict[str, str],
        limits: Limits,
        now_ns: int,
        base: dict[str, Any],
    ) -> list[dict[str, Any] | None]:
        if _fastmodel is None or not model.COMPILED:
            return [None] * len(docs)
        rows: list[dict[str, Any] | None] = _fastmodel.ecs_rows(
            docs, self.indexes, defaults, limits.max_message_bytes, now_ns, base
        )
        return rows

    def raw(self, docs: list[Any], position: int) -> dict[str, Any]:
        return entry(docs[position], self.indexes[position])


def parse(
    body: bytes,
    index: str | None = None,
    max_items: int | None = None,
    values: list[Any] | None = None,
) -> list[Item]:
    """The actions of a bulk body; decoding stops one item past `max_items`.

    A malformed action line, an unknown action or an action without its document
    fails the whole request (ParseError); a document that is not a JSON object is
    an item error. `values` are the lines already `decoded`, if they are.
    """
    if values is None:
        values = decoded(body)
    lines = _Lines(body)
    items: list[Item] = []
    count = len(values)
    number = 0
    while number < count:
        value = values[number]
        number += 1
        if value is _EMPTY:
            continue
        if type(value) is dict and len(value) == 1:  # the common case inline
            [(op, meta)] = value.items()
            if type(meta) is not dict or op not in _OPS:
                op, meta = _action(value, number, lines)
        else:
            op, meta = _action(value, number, lines)
        target = meta.get("_index", index)
        doc_id = meta.get("_id")
        item = Item(
            op,
            target if type(target) is str and target else None,
            None if doc_id is None else str(doc_id),
            number,
        )
        items.append(item)
        if op != "delete":
            while number < count and values[number] is _EMPTY:
                number += 1
            if number >= count:
                raise ParseError(
                    f"the {op!r} action on line {item.line} has no document line after it",
                    item.line,
                )
            number += 1
            if op in STORED:
                if item.index is None:
                    item.error = ("action_request_validation_exception", "index is missing")
                else:
                    doc = values[number - 1]
                    if type(doc) is dict:  # the common case inline
                        item.entry = entry(doc, item.index)
                    else:
                        _document(item, doc, number, lines)
        if op in REFUSED:
            item.error = (
                "illegal_argument_exception",
                f"timberyard stores logs append-only: the {op!r} action is not supported;"
                " send index or create",
            )
        if max_items is not None and len(items) > max_items:
            break
    if not items:
        raise ParseError("the bulk body holds no actions: send action and document lines")
    return items


# Markers of `decoded`: a blank line, and a line that is not JSON.
_EMPTY = object()
_INVALID = object()


_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def decoded(body: bytes) -> list[Any]:
    """Each line decoded, or a marker (`_EMPTY`, `_INVALID`); blank lines at the end may
    be left out. Compiled, a line per call with the repeated action line decoded once;
    else one call into the decoder when every line is valid."""
    if _fastmodel is not None:
        lines: list[Any] = _fastmodel.bulk_lines(body, _decode, _EMPTY, _INVALID, _DECODE_ERRORS)
        return lines
    size = len(body)
    lead = 0
    while lead < size and body[lead] == 10:  # leading empty lines
        lead += 1
    end = size
    while end > lead and body[end - 1] == 10:  # trailing ones
        end -= 1
    if end > lead:
        values: list[Any] | None
        try:
            # Skips blank lines: the count below tells whether there were any inside.
            values = _decode_lines(body)
        except _DECODE_ERRORS:
            values = None
        # Equal counts and no blank line: every line held exactly one value (a line of
        # two values, which decode_lines also splits, cannot hide behind a blank one).
        if (
            values is not None
            and len(values) == body.count(b"\n", lead, end) + 1
            and not _has_blank_line(body, lead, end)
        ):
            return [_EMPTY] * lead + values if lead else values
    return [_decode_line(line) if line.strip() else _EMPTY for line in body.split(b"\n")]


_BLANK_INSIDE = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")


def _has_blank_line(body: bytes, start: int, end: int) -> bool:
    """Whether body[start:end] has a line of whitespace only (each end checked apart)."""
    first = body.find(b"\n", start, end)
    if first < 0:
        return not body[start:end].strip()
    last = body.rfind(b"\n", start, end)
    return (
        not body[start:first].strip()
        or not body[last + 1 : end].strip()
        or _BLANK_INSIDE.search(body, start, end) is not None
    )


class _Lines:
    """The lines of a body, split only when one is needed (for an error message)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.lines: list[bytes] | None = None

    def __getitem__(self, index: int) -> bytes:
        if self.lines is None:
            self.lines = self.body.split(b"\n")
        return self.lines[index]


def _decode_line(line: bytes) -> Any:
    try:
        return _decode(line)
    except _DECODE_ERRORS:
        return _INVALID


def _action(action: Any, number: int, lines: _Lines) -> tuple[str, dict[str, Any]]:
    """The operation and metadata of an action line, or the ParseError that fails the request."""
    if type(action) is dict and len(action) == 1:
        op, meta = next(iter(action.items()))
        if op in STORED or op in REFUSED:
            if type(meta) is dict:
                return op, meta
            raise ParseError(f"the {op!r} action's metadata must be an object", number)
        raise ParseError(
            f"unknown action {op!r}: expected index, create, update or delete", number
        )
    raise ParseError(
        f"malformed action line {_short(lines[number - 1])}: expected one action such as"
        ' {"index": {}}',
        number,
    )


def document(item: Item, source: bytes, line: int = 1) -> None:
    """A document's text as the item's entry, or the item's error when it is not an object."""
    _document(item, _decode_line(source), line, [source] * line)


def _document(item: Item, doc: Any, number: int, lines: Any) -> None:
    if doc is _INVALID:
        item.error = (
            "document_parsing_exception",
            f"[{number}:1] failed to parse: the document is not valid JSON:"
            f" {_short(lines[number - 1])}",
        )
    elif not isinstance(doc, dict):
        item.error = ("document_parsing_exception", f"[{number}:1] the document must be an object")
    else:
        item.entry = entry(doc, item.index)


def entry(doc: dict[str, Any], index: str | None = None) -> dict[str, Any]:
    """One document as a raw entry: ECS columns taken out, the rest kept as fields."""
    raw: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    # column -> (rank, the object it was taken from, its key there, its value there)
    won: dict[str, tuple[int, dict[str, Any], str, Any]] = {}
    partial: list[str] = []
    for key, value in doc.items():
        spec = _PATHS.get(key)
        if spec is not None:
            column = spec[0]
            if type(value) is str and column not in won and column != "level":
                won[column] = (spec[1], rest, key, value)  # the common case, inline
                raw[column] = value
                continue
            if _claim(raw, won, spec, rest, key, value):
                continue
        if type(value) is dict:
            nested = _NESTED.get(key)
            if nested is not None:
                remainder: dict[str, Any] = {}
                for sub, sub_value in value.items():
                    found = nested.get(sub)
                    if found is None or not _claim(raw, won, found, remainder, sub, sub_value):
                        remainder[sub] = sub_value
                rest[key] = remainder
                partial.append(key)
                continue
        rest[key] = value
    for key in partial:
        if not rest[key]:
            del rest[key]  # every member was a column
    if "dataset" not in raw and index:
        raw["dataset"] = index
    if rest:
        raw["fields"] = rest
    return raw


def _claim(
    raw: dict[str, Any],
    won: dict[str, tuple[int, dict[str, Any], str, Any]],
    spec: tuple[str, int],
    container: dict[str, Any],
    key: str,
    value: Any,
) -> bool:
    """Take a value for its column unless a better-ranked one has it; a loser goes back."""
    if value is None or type(value) is dict or type(value) is list:
        return False  # not a column value: it stays in fields
    column, rank = spec
    taken = value
    if column == "level":
        taken = level_of(value)
        if taken is None:
            return False
    previous = won.get(column)
    if previous is not None:
        if previous[0] <= rank:
            return False
        previous[1][previous[2]] = previous[3]
    won[column] = (rank, container, key, value)
    raw[column] = taken
    return True


def _short(raw: bytes) -> str:
    text = raw[:60].decode("utf-8", "replace")
    return repr(text + ("..." if len(raw) > 60 else ""))
