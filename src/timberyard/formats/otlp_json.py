"""OTLP/JSON logs: an `ExportLogsServiceRequest` in JSON (camelCase keys, hex ids).

int64 values arrive as decimal strings (Python exporters) or numbers (JS); enum
values as numbers or names. The mapping is `formats.otlp`'s, shared with protobuf.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

from ..errors import ParseError
from ..model import DEFAULT_LIMITS
from .base import Parsed
from .otlp import (
    MAX_ATTRIBUTES,
    MAX_DEPTH,
    RecordError,
    Records,
    hex_id,
    record_entry,
    resource_context,
)

_decode_json = msgspec.json.Decoder().decode


def parse_json(body: bytes, now_ns: int, max_records: int = DEFAULT_LIMITS.max_entries) -> Parsed:
    """An `ExportLogsServiceRequest` in OTLP/JSON (camelCase keys, hex ids) as raw entries."""
    try:
        doc = _decode_json(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ParseError(f"invalid OTLP/JSON body: {exc or 'nested too deeply'}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceLogs", []), list):
        raise ParseError(
            "the body is not an OTLP/JSON ExportLogsServiceRequest: expected an object"
            ' with a "resourceLogs" array'
        )
    resource_logs = [rl for rl in doc.get("resourceLogs") or [] if isinstance(rl, dict)]
    out = Records(max_records)
    total = 0
    for rl in resource_logs:
        for sl in _list(rl.get("scopeLogs")):
            if isinstance(sl, dict):
                total += len(_list(sl.get("logRecords")))
    out.check_total(total)
    for rl in resource_logs:
        resource_error = ""
        resource: dict[str, Any] = {}
        try:
            res = rl.get("resource") or {}
            resource = _js_attributes(_object(res, "resource").get("attributes"), "resource")
        except RecordError as exc:
            resource_error = exc.reason
        for sl in _list(rl.get("scopeLogs")):
            if not isinstance(sl, dict):
                continue
            scope_error = resource_error
            scope: dict[str, Any] = {}
            if not scope_error:
                try:
                    scope = _js_scope(sl.get("scope") or {})
                except RecordError as exc:
                    scope_error = exc.reason
            columns, shared = resource_context(resource, scope)
            for record in _list(sl.get("logRecords")):
                if scope_error:
                    out.reject(scope_error)
                    continue
                try:
                    out.add(_js_record(columns, shared, record))
                except RecordError as exc:
                    out.reject(exc.reason)
    return out.parsed()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{name} must be a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _js_scope(scope: Any) -> dict[str, Any]:
    scope = _object(scope, "scope")
    fields = _js_attributes(scope.get("attributes"), "scope")
    for key in ("name", "version"):
        value = scope.get(key)
        if isinstance(value, str) and value:
            fields[f"otel.scope.{key}"] = value
    return fields


def _js_record(columns: dict[str, Any], shared: dict[str, Any], record: Any) -> dict[str, Any]:
    record = _object(record, "log record")
    body = record.get("body")
    return record_entry(
        columns,
        shared,
        time_ns=_js_int(record.get("timeUnixNano"), "timeUnixNano"),
        observed_ns=_js_int(record.get("observedTimeUnixNano"), "observedTimeUnixNano"),
        severity_number=_js_severity(record.get("severityNumber")),
        severity_text=_js_str(record.get("severityText"), "severityText"),
        body=None if body is None else _js_value(body, 0),
        attributes=_js_attributes(record.get("attributes"), "log record"),
        trace_id=_js_id(record.get("traceId"), "traceId", 16),
        span_id=_js_id(record.get("spanId"), "spanId", 8),
        event_name=_js_str(record.get("eventName"), "eventName"),
    )


def _js_int(value: Any, name: str) -> int:
    """An int64/uint64 of OTLP/JSON: a number or a decimal string."""
    if value is None:
        return 0
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    raise RecordError(f"{name} {value!r} is not an integer: send a number or a decimal string")


def _js_severity(value: Any) -> int:
    if isinstance(value, str) and value.startswith("SEVERITY_NUMBER_"):
        try:
            return int(SeverityNumber.Value(value))
        except ValueError:
            raise RecordError(f"unknown severityNumber {value!r}") from None
    return _js_int(value, "severityNumber")


def _js_str(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string, got {_kind(value)}")
    return value


def _js_id(value: Any, name: str, size: int) -> str:
    """A trace or span id: hex in OTLP/JSON (base64 tolerated, as proto3 JSON spells bytes)."""
    if not value:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a hex string, got {_kind(value)}")
    try:
        raw = (
            bytes.fromhex(value)
            if len(value) == 2 * size
            else base64.b64decode(value, validate=True)
        )
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != size:
        raise RecordError(
            f"{name} {value!r} is not {size} bytes of hex: send {2 * size} hex digits"
        )
    return hex_id(raw, name, size)


def _js_attributes(attributes: Any, owner: str) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, list):
        raise RecordError(f"{owner} attributes must be an array, got {_kind(attributes)}")
    if len(attributes) > MAX_ATTRIBUTES:
        raise RecordError(
            f"{owner} has {len(attributes)} attributes; the limit is {MAX_ATTRIBUTES}"
        )
    return _js_pairs(attributes, 1)


def _js_pairs(pairs: list[Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise RecordError(
                f'an attribute must be {{"key": ..., "value": ...}}, got {pair!r:.80}'
            )
        value = pair.get("value")
        out[pair["key"]] = None if value is None else _js_value(value, depth)
    return out


def _js_value(value: Any, depth: int) -> Any:
    if not isinstance(value, dict):
        raise RecordError(f"an AnyValue must be a JSON object, got {_kind(value)}")
    if not value:
        return None
    if len(value) != 1:
        raise RecordError(f"an AnyValue holds one value, got keys {sorted(value)}")
    kind, inner = next(iter(value.items()))
    if kind == "stringValue":
        return _js_str(inner, "stringValue")
    if kind == "intValue":
        return _js_int(inner, "intValue")
    if kind == "doubleValue":
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return float(inner)
        if inner in ("NaN", "Infinity", "-Infinity"):
            return None  # not representable in stored JSON
        raise RecordError(f"doubleValue {inner!r} is not a number")
    if kind == "boolValue":
        if not isinstance(inner, bool):
            raise RecordError(f"boolValue {inner!r} is not true or false")
        return inner
    if kind == "bytesValue":
        if not isinstance(inner, str):
            raise RecordError(f"bytesValue must be a base64 string, got {_kind(inner)}")
        return inner
    if kind in ("arrayValue", "kvlistValue"):
        if depth >= MAX_DEPTH:
            raise RecordError(f"attribute values nest deeper than {MAX_DEPTH} levels")
        items = _list(_object(inner or {}, kind).get("values"))
        if kind == "arrayValue":
            return [_js_value(item, depth + 1) for item in items]
        return _js_pairs(items, depth + 1)
    raise RecordError(
        f"unknown AnyValue kind {kind!r}: expected stringValue, intValue, doubleValue,"
        " boolValue, bytesValue, arrayValue or kvlistValue"
    )
