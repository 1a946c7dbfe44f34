"""OTLP logs: an `ExportLogsServiceRequest` (protobuf or OTLP/JSON) as raw entries.

The mapping (documented in the README's OpenTelemetry section):

- `severityNumber` 1-24 gives the level (trace, debug, info, warn, error, fatal in
  steps of four); without one, `severityText` is read as a level name; neither: info.
- `body` is the message: a string as it is; a map or an array as JSON text; other
  scalars as text. A record without a body takes its `exception.message` (else its
  `exception.type`) as message; with neither it is rejected.
- Resource `service.name`, `service.version`, `service.instance.id`,
  `deployment.environment.name` (else the older `deployment.environment`) and
  `host.name` fill the canonical columns.
- `exception.type` and `exception.stacktrace` become `errorName` and `errorStack`.
- Every other attribute of the record, its scope and its resource goes into `fields`
  under its dotted name (the record's win over the scope's over the resource's);
  numbers stay numbers, bytes are base64. The scope's name and version are kept as
  `otel.scope.name` and `otel.scope.version`, an `eventName` as `event.name`.
- `traceId`/`spanId` as lower-case hex; `timeUnixNano`, else `observedTimeUnixNano`,
  at full nanosecond precision.

A problem of one record (an unknown AnyValue kind, no body, too many attributes)
rejects that record only: `Parsed.extra["rejected"]` lists `(record index, reason)`
and `Parsed.extra["indexes"]` gives each entry's record index. A body that is not
OTLP at all, or that holds more records than allowed, raises `ParseError`.
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from ..errors import ParseError, ValidationIssue
from ..model import DEFAULT_LIMITS, parse_level
from .base import Parsed

# Attributes in one map (a record's, a scope's or a resource's) before the record is refused.
MAX_ATTRIBUTES = 1000
# Nesting of AnyValue arrays and maps before the record is refused.
MAX_DEPTH = 32

# Resource attribute -> canonical column; the first one present wins.
RESOURCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("service.name", "service"),
    ("service.version", "version"),
    ("service.instance.id", "instanceId"),
    ("deployment.environment.name", "environment"),
    ("deployment.environment", "environment"),
    ("host.name", "host"),
)
_COLUMN_OF = dict(RESOURCE_COLUMNS)

# Severity number 1-24 -> level, four numbers per level.
_SEVERITY = ("trace", "debug", "info", "warn", "error", "fatal")

_encode_json = msgspec.json.Encoder().encode


class RecordError(Exception):
    """A problem of one log record (or of the resource or scope it belongs to)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(body: bytes, now_ns: int, max_records: int = DEFAULT_LIMITS.max_entries) -> Parsed:
    """An OTLP logs request, protobuf or OTLP/JSON (told apart by the first byte)."""
    if body.lstrip()[:1] == b"{":
        return parse_json(body, now_ns, max_records)
    return parse_protobuf(body, now_ns, max_records)


def is_protobuf(content_type: str | None) -> bool:
    """Whether a Content-Type names protobuf (else the request and answer are JSON)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in ("application/x-protobuf", "application/protobuf")


# -- the entry of one record ---------------------------------------------------------


class Records:
    """Collects entries and rejections, record by record, in request order."""

    def __init__(self, max_records: int) -> None:
        self.max_records = max_records
        self.entries: list[dict[str, Any]] = []
        self.indexes: list[int] = []
        self.rejected: list[tuple[int, str]] = []
        self.count = 0

    def check_total(self, total: int) -> None:
        if total > self.max_records:
            raise ParseError(
                f"{total} log records in one request; the limit is {self.max_records}:"
                " send smaller batches (the collector's batch processor: send_batch_max_size)"
            )

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        self.indexes.append(self.count)
        self.count += 1

    def reject(self, reason: str) -> None:
        self.rejected.append((self.count, reason))
        self.count += 1

    def parsed(self) -> Parsed:
        if self.count == 0:
            raise ParseError("the request holds no log records")
        return Parsed(
            self.entries,
            extra={"rejected": self.rejected, "indexes": self.indexes, "records": self.count},
        )


def resource_context(
    attributes: dict[str, Any], scope: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Canonical columns and `fields` shared by the records of one resource and scope."""
    columns: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for key, value in attributes.items():
        column = _COLUMN_OF.get(key)
        if column is None or not isinstance(value, str) or not value:
            fields[key] = value
    for key, column in RESOURCE_COLUMNS:
        value = attributes.get(key)
        if column not in columns and isinstance(value, str) and value:
            columns[column] = value
    fields.update(scope)
    return columns, fields


def record_entry(
    columns: dict[str, Any],
    shared: dict[str, Any],
    *,
    time_ns: int,
    observed_ns: int,
    severity_number: int,
    severity_text: str,
    body: Any,
    attributes: dict[str, Any],
    trace_id: str,
    span_id: str,
    event_name: str = "",
) -> dict[str, Any]:
    """The raw entry of one decoded record; RecordError when it cannot be one."""
    entry: dict[str, Any] = dict(columns)
    fields = {**shared, **attributes} if shared else dict(attributes)
    exception_message: Any = None
    if (
        "exception.type" in fields
        or "exception.message" in fields
        or "exception.stacktrace" in fields
    ):
        exception_message = fields.get("exception.message")
        for key, name in (("exception.type", "errorName"), ("exception.stacktrace", "errorStack")):
            value = fields.pop(key, None)
            if value is not None:
                entry[name] = value if isinstance(value, str) else _text(value)
    if event_name:
        fields["event.name"] = event_name
    message = body if isinstance(body, str) else (None if body is None else _text(body))
    if not message or not message.strip():
        fallback = exception_message if exception_message is not None else entry.get("errorName")
        if fallback is None or not _text(fallback).strip():
            raise RecordError("log record has no body (and no exception.message)")
        message = _text(fallback)
    entry["message"] = message
    entry["level"] = _level(severity_number, severity_text, fields)
    if time_ns or observed_ns:
        entry["timestamp"] = time_ns or observed_ns
    if trace_id:
        entry["traceId"] = trace_id
    if span_id:
        entry["spanId"] = span_id
    if fields:
        entry["fields"] = fields
    return entry


def _level(number: int, text: str, fields: dict[str, Any]) -> str:
    if number:
        if not 1 <= number <= 24:
            raise RecordError(f"severityNumber {number} is out of range: expected 0 to 24")
        return _SEVERITY[(number - 1) // 4]
    if text:
        try:
            return parse_level(text)
        except ValidationIssue:
            fields.setdefault("severity_text", text)
    return "info"


def _text(value: Any) -> str:
    """A decoded AnyValue as message text: maps and arrays as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _encode_json(value).decode()
    return str(value)


def hex_id(value: bytes, name: str, size: int) -> str:
    if not value or not any(value):
        return ""  # absent, or all zeros (the spec's invalid id)
    if len(value) != size:
        raise RecordError(f"{name} is {len(value)} bytes long: expected {size}")
    return value.hex()


# -- protobuf ------------------------------------------------------------------------


def parse_protobuf(
    body: bytes, now_ns: int, max_records: int = DEFAULT_LIMITS.max_entries
) -> Parsed:
    """An `ExportLogsServiceRequest` in protobuf (OTLP/HTTP binary or gRPC) as raw entries."""
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise ParseError(
            f"invalid OTLP protobuf body: {exc or 'cannot decode'}; send an"
            " ExportLogsServiceRequest (Content-Type application/x-protobuf)"
        ) from None
    out = Records(max_records)
    out.check_total(
        sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
    )
    for resource_logs in request.resource_logs:
        try:
            resource = _pb_attributes(resource_logs.resource.attributes, "resource")
        except RecordError as exc:
            resource, resource_error = {}, exc.reason
        else:
            resource_error = ""
        for scope_logs in resource_logs.scope_logs:
            scope_error = resource_error
            scope: dict[str, Any] = {}
            if not scope_error:
                try:
                    scope = _pb_scope(scope_logs.scope)
                except RecordError as exc:
                    scope_error = exc.reason
            columns, shared = resource_context(resource, scope)
            for record in scope_logs.log_records:
                if scope_error:
                    out.reject(scope_error)
                    continue
                try:
                    out.add(_pb_record(columns, shared, record))
                except RecordError as exc:
                    out.reject(exc.reason)
    return out.parsed()


def _pb_scope(scope: Any) -> dict[str, Any]:
    fields = _pb_attributes(scope.attributes, "scope")
    if scope.name:
        fields["otel.scope.name"] = scope.name
    if scope.version:
        fields["otel.scope.version"] = scope.version
    return fields


def _pb_record(columns: dict[str, Any], shared: dict[str, Any], record: Any) -> dict[str, Any]:
    return record_entry(
        columns,
        shared,
        time_ns=record.time_unix_nano,
        observed_ns=record.observed_time_unix_nano,
        severity_number=record.severity_number,
        severity_text=record.severity_text,
        body=_pb_value(record.body, 0) if record.HasField("body") else None,
        attributes=_pb_attributes(record.attributes, "log record"),
        trace_id=hex_id(record.trace_id, "traceId", 16),
        span_id=hex_id(record.span_id, "spanId", 8),
        event_name=record.event_name,
    )


def _pb_attributes(attributes: Any, owner: str) -> dict[str, Any]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise RecordError(
            f"{owner} has {len(attributes)} attributes; the limit is {MAX_ATTRIBUTES}"
        )
    out: dict[str, Any] = {}
    for kv in attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        # The scalar kinds inline: this loop is most of the cost of a protobuf request.
        out[kv.key] = getattr(value, kind) if kind in _SCALAR_KINDS else _pb_value(value, 1)
    return out


_SCALAR_KINDS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def _pb_value(value: Any, depth: int) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind is None:
        return None  # an empty AnyValue (or one of a kind this version does not know)
    if depth >= MAX_DEPTH:
        raise RecordError(f"attribute values nest deeper than {MAX_DEPTH} levels")
    if kind == "array_value":
        return [_pb_value(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _pb_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    return base64.b64encode(value.bytes_value).decode()


def parse_json(body: bytes, now_ns: int, max_records: int = DEFAULT_LIMITS.max_entries) -> Parsed:
    """An `ExportLogsServiceRequest` in OTLP/JSON as raw entries (see `formats.otlp_json`)."""
    from .otlp_json import parse_json as parse

    return parse(body, now_ns, max_records)
