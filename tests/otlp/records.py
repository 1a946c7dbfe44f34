"""Building OTLP requests for tests: one record description, protobuf and JSON alike."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def any_value(value: Any) -> AnyValue:
    """A Python value as a protobuf AnyValue."""
    out = AnyValue()
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, list):
        out.array_value.values.extend(any_value(v) for v in value)
    elif isinstance(value, dict):
        for key, item in value.items():
            kv = out.kvlist_value.values.add()
            kv.key = key
            kv.value.CopyFrom(any_value(item))
    return out


def json_value(value: Any, int_as: type = str) -> dict[str, Any]:
    """A Python value as an OTLP/JSON AnyValue (int64 as a string or a number)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": int_as(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [json_value(v, int_as) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": json_value(v, int_as)} for k, v in value.items()]}}
    raise TypeError(value)


def protobuf_request(resource: dict[str, Any], records: list[dict[str, Any]], scope: dict[str, Any] | None = None) -> bytes:
    """An ExportLogsServiceRequest with one resource and one scope, serialised."""
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    for key, value in resource.items():
        kv = rl.resource.attributes.add()
        kv.key = key
        kv.value.CopyFrom(any_value(value))
    sl = rl.scope_logs.add()
    scope = scope or {}
    sl.scope.name = scope.get("name", "")
    sl.scope.version = scope.get("version", "")
    for record in records:
        rec = sl.log_records.add()
        rec.time_unix_nano = record.get("time", 0)
        rec.observed_time_unix_nano = record.get("observed", 0)
        rec.severity_number = record.get("severity", 0)
        rec.severity_text = record.get("text", "")
        if "body" in record:
            rec.body.CopyFrom(any_value(record["body"]))
        for key, value in record.get("attributes", {}).items():
            kv = rec.attributes.add()
            kv.key = key
            kv.value.CopyFrom(any_value(value))
        if record.get("trace"):
            rec.trace_id = bytes.fromhex(record["trace"])
        if record.get("span"):
            rec.span_id = bytes.fromhex(record["span"])
    return request.SerializeToString()


def json_request(
    resource: dict[str, Any], records: list[dict[str, Any]], scope: dict[str, Any] | None = None, int_as: type = str
) -> bytes:
    """The same request in OTLP/JSON (camelCase, hex ids, int64 as `int_as`)."""
    out_records = []
    for record in records:
        rec: dict[str, Any] = {}
        if record.get("time"):
            rec["timeUnixNano"] = int_as(record["time"])
        if record.get("observed"):
            rec["observedTimeUnixNano"] = int_as(record["observed"])
        if record.get("severity"):
            rec["severityNumber"] = record["severity"]
        if record.get("text"):
            rec["severityText"] = record["text"]
        if "body" in record:
            rec["body"] = json_value(record["body"], int_as)
        rec["attributes"] = [{"key": k, "value": json_value(v, int_as)} for k, v in record.get("attributes", {}).items()]
        if record.get("trace"):
            rec["traceId"] = record["trace"]
        if record.get("span"):
            rec["spanId"] = record["span"]
        out_records.append(rec)
    doc = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": k, "value": json_value(v, int_as)} for k, v in resource.items()]},
                "scopeLogs": [{"scope": scope or {}, "logRecords": out_records}],
            }
        ]
    }
    return json.dumps(doc).encode()
