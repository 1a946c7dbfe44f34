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

from dataclasses import dataclass
from typing import Any

import msgspec

from ..errors import ParseError
from .shipper import level_of

# Operations whose documents are stored, and those refused item by item.
STORED = ("index", "create")
REFUSED = ("delete", "update")

_decode = msgspec.json.Decoder().decode

# (column of our input vocabulary, ECS paths that name it, first present wins).
ECS_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("timestamp", ("@timestamp", "timestamp", "timereported")),
    ("message", ("message", "msg")),
    ("service", ("service.name", "service")),
    ("environment", ("service.environment", "environment", "env")),
    ("host", ("host.name", "host.hostname", "host", "hostname", "fromhost")),
    ("traceId", ("trace.id",)),
    ("spanId", ("span.id",)),
    ("errorName", ("error.type",)),
    ("errorStack", ("error.stack_trace",)),
    ("dataset", ("event.dataset",)),
)
LEVEL_PATHS = ("log.level", "level", "severity", "priority")


@dataclass
class Item:
    """One action of a bulk request: its document as a raw entry, or why it is refused."""

    op: str
    index: str | None
    id: str | None
    line: int
    entry: dict[str, Any] | None = None
    error: tuple[str, str] | None = None  # (Elasticsearch error type, reason)


def parse(body: bytes, index: str | None = None, max_items: int | None = None) -> list[Item]:
    """The actions of a bulk body; decoding stops one item past `max_items`.

    A malformed action line, an unknown action or an action without its document
    fails the whole request (ParseError); a document that is not a JSON object is
    an item error.
    """
    lines = body.split(b"\n")
    items: list[Item] = []
    number = 0
    while number < len(lines):
        raw = lines[number]
        number += 1
        if not raw.strip():
            continue
        action = _action(raw, number)
        op, meta = next(iter(action.items()))
        if not isinstance(meta, dict):
            raise ParseError(f"the {op!r} action's metadata must be an object", number)
        target = meta.get("_index", index)
        doc_id = meta.get("_id")
        item = Item(
            op=op,
            index=target if isinstance(target, str) and target else None,
            id=str(doc_id) if doc_id is not None else None,
            line=number,
        )
        items.append(item)
        if op != "delete":
            while number < len(lines) and not lines[number].strip():
                number += 1
            if number >= len(lines):
                raise ParseError(
                    f"the {op!r} action on line {item.line} has no document line after it",
                    item.line,
                )
            source = lines[number]
            number += 1
            if op in STORED:
                document(item, source, number)
        if op in REFUSED:
            item.error = (
                "illegal_argument_exception",
                f"timberyard stores logs append-only: the {op!r} action is not supported;"
                " send index or create",
            )
        if item.op in STORED and item.index is None and item.error is None:
            item.error = ("action_request_validation_exception", "index is missing")
            item.entry = None
        if max_items is not None and len(items) > max_items:
            break
    if not items:
        raise ParseError("the bulk body holds no actions: send action and document lines")
    return items


def _action(raw: bytes, number: int) -> dict[str, Any]:
    try:
        action = _decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise ParseError(
            f"malformed action line {_short(raw)}: expected an object such as"
            ' {"index": {}}',
            number,
        ) from None
    if not isinstance(action, dict) or len(action) != 1:
        raise ParseError(
            f"malformed action line {_short(raw)}: expected one action such as"
            ' {"index": {}}',
            number,
        )
    op = next(iter(action))
    if op not in STORED and op not in REFUSED:
        raise ParseError(
            f"unknown action {op!r}: expected index, create, update or delete", number
        )
    return action


def document(item: Item, source: bytes, number: int) -> None:
    """Decode an action's document line into its entry, or record why it cannot be."""
    try:
        doc = _decode(source)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        item.error = (
            "document_parsing_exception",
            f"[{number}:1] failed to parse: the document is not valid JSON: {_short(source)}",
        )
        return
    if not isinstance(doc, dict):
        item.error = ("document_parsing_exception", f"[{number}:1] the document must be an object")
        return
    item.entry = entry(doc, item.index)


def entry(doc: dict[str, Any], index: str | None = None) -> dict[str, Any]:
    """One document as a raw entry: ECS columns taken out, the rest kept as fields."""
    doc = dict(doc)
    raw: dict[str, Any] = {}
    for column, paths in ECS_COLUMNS:
        for path in paths:
            value = _take(doc, path)
            if value is not None:
                raw[column] = value
                break
    for path in LEVEL_PATHS:
        value = _peek(doc, path)
        if value is None:
            continue
        level = level_of(value)
        if level is not None:
            _take(doc, path)
            raw["level"] = level
            break
    if "message" not in raw:
        error_message = _take(doc, "error.message")
        if error_message is not None:
            raw["message"] = error_message
    if "dataset" not in raw and index:
        raw["dataset"] = index
    for key in [key for key, value in doc.items() if value == {}]:
        del doc[key]  # what is left of an object whose members were all mapped
    if doc:
        raw["fields"] = doc
    return raw


def _peek(doc: dict[str, Any], path: str) -> Any:
    if path in doc:
        return doc[path]
    head, dot, rest = path.partition(".")
    if dot and isinstance(doc.get(head), dict):
        return _peek(doc[head], rest)
    return None


def _take(doc: dict[str, Any], path: str) -> Any:
    """Remove and return a dotted path, flat or nested; parents left empty stay for the caller."""
    if path in doc:
        value = doc[path]
        if isinstance(value, dict | list):
            return None  # not a column value: leave it in fields
        return doc.pop(path)
    head, dot, rest = path.partition(".")
    if dot and isinstance(doc.get(head), dict):
        child = dict(doc[head])
        value = _take(child, rest)
        if value is not None:
            doc[head] = child
        return value
    return None


def _short(raw: bytes) -> str:
    text = raw[:60].decode("utf-8", "replace")
    return repr(text + ("..." if len(raw) > 60 else ""))
