"""The OTLP decoder, protobuf and JSON alike: a table of records and the entries they become."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timberyard.errors import ParseError
from timberyard.formats import otlp, parser, resolve

from .records import SPAN, TRACE, json_request, protobuf_request

NOW = 1_705_320_000_000_000_000
T = 1_705_320_000_123_456_789  # full ns precision must survive

RESOURCE = {
    "service.name": "checkout",
    "service.version": "1.4.2",
    "service.instance.id": "pod-7",
    "deployment.environment.name": "production",
    "host.name": "web-1",
    "cloud.region": "eu-west-1",
    "process.pid": 4242,
}
COLUMNS = {
    "service": "checkout",
    "version": "1.4.2",
    "instanceId": "pod-7",
    "environment": "production",
    "host": "web-1",
}
SHARED = {"cloud.region": "eu-west-1", "process.pid": 4242}

# (case, record, expected entry beyond the resource's columns and fields)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "string body, severity number, ids, time",
        {"body": "payment declined", "severity": 17, "time": T, "trace": TRACE, "span": SPAN},
        {"message": "payment declined", "level": "error", "timestamp": T, "traceId": TRACE, "spanId": SPAN},
    ),
    ("observed time when time is 0", {"body": "x", "observed": T}, {"message": "x", "level": "info", "timestamp": T}),
    ("neither time: server time", {"body": "x"}, {"message": "x", "level": "info"}),
    ("severity 1 is trace", {"body": "x", "severity": 1}, {"message": "x", "level": "trace"}),
    ("severity 8 is debug", {"body": "x", "severity": 8}, {"message": "x", "level": "debug"}),
    ("severity 9 is info", {"body": "x", "severity": 9}, {"message": "x", "level": "info"}),
    ("severity 13 is warn", {"body": "x", "severity": 13}, {"message": "x", "level": "warn"}),
    ("severity 24 is fatal", {"body": "x", "severity": 24}, {"message": "x", "level": "fatal"}),
    ("number wins over text", {"body": "x", "severity": 13, "text": "INFO"}, {"message": "x", "level": "warn"}),
    ("text without number", {"body": "x", "text": "WARNING"}, {"message": "x", "level": "warn"}),
    (
        "unknown text kept in fields",
        {"body": "x", "text": "CHATTY"},
        {"message": "x", "level": "info", "fields": {"severity_text": "CHATTY"}},
    ),
    (
        "map body as JSON text",
        {"body": {"event": "login", "user": {"id": 7}}},
        {"message": '{"event":"login","user":{"id":7}}', "level": "info"},
    ),
    ("array body as JSON text", {"body": ["a", 1, True]}, {"message": '["a",1,true]', "level": "info"}),
    ("int body as text", {"body": 42}, {"message": "42", "level": "info"}),
    ("bool body as text", {"body": False}, {"message": "false", "level": "info"}),
    (
        "attributes with dotted names, numbers kept",
        {"body": "x", "attributes": {"http.status_code": 503, "ratio": 0.25, "ok": True, "tags": ["a", "b"]}},
        {
            "message": "x",
            "level": "info",
            "fields": {"http.status_code": 503, "ratio": 0.25, "ok": True, "tags": ["a", "b"]},
        },
    ),
    (
        "record attributes win over resource ones",
        {"body": "x", "attributes": {"cloud.region": "us-east-1"}},
        {"message": "x", "level": "info", "fields": {"cloud.region": "us-east-1"}},
    ),
    (
        "exception attributes",
        {
            "body": "charge failed",
            "severity": 17,
            "attributes": {
                "exception.type": "CardError",
                "exception.message": "card expired",
                "exception.stacktrace": "Traceback...\nCardError: card expired",
            },
        },
        {
            "message": "charge failed",
            "level": "error",
            "errorName": "CardError",
            "errorStack": "Traceback...\nCardError: card expired",
            "fields": {"exception.message": "card expired"},
        },
    ),
    (
        "no body: exception.message is the message",
        {"severity": 17, "attributes": {"exception.type": "CardError", "exception.message": "card expired"}},
        {
            "message": "card expired",
            "level": "error",
            "errorName": "CardError",
            "fields": {"exception.message": "card expired"},
        },
    ),
    (
        "empty body: exception.type is the message",
        {"body": "", "attributes": {"exception.type": "Timeout"}},
        {"message": "Timeout", "level": "info", "errorName": "Timeout"},
    ),
]


def expected(entry: dict[str, Any]) -> dict[str, Any]:
    out = {**COLUMNS, **entry}
    out["fields"] = {**SHARED, "otel.scope.name": "app.payments", **entry.get("fields", {})}
    return out


ENCODINGS = {
    "protobuf": lambda records: protobuf_request(RESOURCE, records, {"name": "app.payments"}),
    "json-int-as-string": lambda records: json_request(RESOURCE, records, {"name": "app.payments"}, str),
    "json-int-as-number": lambda records: json_request(RESOURCE, records, {"name": "app.payments"}, int),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("case", "record", "entry"), CASES, ids=[c[0] for c in CASES])
def test_record_maps_to_entry(encoding: str, case: str, record: dict[str, Any], entry: dict[str, Any]) -> None:
    parsed = otlp.parse(ENCODINGS[encoding]([record]), NOW)
    assert parsed.extra["rejected"] == []
    assert parsed.entries == [expected(entry)]


# (case, record or raw JSON record, reason fragment)
REJECTED: list[tuple[str, dict[str, Any], str]] = [
    ("no body", {"severity": 9}, "no body"),
    ("empty body", {"body": "  "}, "no body"),
    ("severity out of range", {"body": "x", "severity": 30}, "severityNumber 30"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("case", "record", "reason"), REJECTED, ids=[c[0] for c in REJECTED])
def test_bad_record_is_rejected_alone(encoding: str, case: str, record: dict[str, Any], reason: str) -> None:
    parsed = otlp.parse(ENCODINGS[encoding]([{"body": "fine"}, record, {"body": "also fine"}]), NOW)
    assert [e["message"] for e in parsed.entries] == ["fine", "also fine"]
    assert parsed.extra["indexes"] == [0, 2]
    [(index, why)] = parsed.extra["rejected"]
    assert index == 1 and reason in why


def json_doc(records: list[Any], resource: Any = None) -> bytes:
    rl: dict[str, Any] = {"scopeLogs": [{"logRecords": records}]}
    if resource is not None:
        rl["resource"] = resource
    return json.dumps({"resourceLogs": [rl]}).encode()


# JSON-only faults of one record: (case, raw record, reason fragment)
JSON_REJECTED: list[tuple[str, Any, str]] = [
    ("unknown AnyValue kind", {"body": {"fooValue": 1}}, "unknown AnyValue kind 'fooValue'"),
    ("AnyValue with two kinds", {"body": {"stringValue": "a", "intValue": 1}}, "one value"),
    ("bad int64", {"body": {"stringValue": "a"}, "timeUnixNano": "soon"}, "timeUnixNano 'soon'"),
    ("bad trace id", {"body": {"stringValue": "a"}, "traceId": "xyz"}, "traceId 'xyz'"),
    ("attributes not an array", {"body": {"stringValue": "a"}, "attributes": {"a": 1}}, "must be an array"),
    ("record not an object", "hello", "must be a JSON object"),
    (
        "huge attribute map",
        {"body": {"stringValue": "a"}, "attributes": [{"key": f"k{i}", "value": {"intValue": i}} for i in range(5000)]},
        "5000 attributes; the limit is 1000",
    ),
    (
        "deep nesting",
        {"body": json.loads('{"arrayValue": {"values": [' * 40 + "]}}" * 40)},
        "nest deeper",
    ),
]


@pytest.mark.parametrize(("case", "record", "reason"), JSON_REJECTED, ids=[c[0] for c in JSON_REJECTED])
def test_json_record_faults(case: str, record: Any, reason: str) -> None:
    parsed = otlp.parse(json_doc([{"body": {"stringValue": "ok"}}, record]), NOW)
    assert [e["message"] for e in parsed.entries] == ["ok"]
    [(index, why)] = parsed.extra["rejected"]
    assert index == 1 and reason in why, why


def test_json_enum_names_base64_ids_and_severity() -> None:
    import base64

    record = {
        "body": {"stringValue": "x"},
        "severityNumber": "SEVERITY_NUMBER_WARN",
        "traceId": base64.b64encode(bytes.fromhex(TRACE)).decode(),
        "spanId": SPAN.upper(),
    }
    [entry] = otlp.parse(json_doc([record]), NOW).entries
    assert entry["level"] == "warn" and entry["traceId"] == TRACE and entry["spanId"] == SPAN


def test_all_zero_ids_are_absent() -> None:
    [entry] = otlp.parse(protobuf_request({}, [{"body": "x", "trace": "0" * 32, "span": "0" * 16}]), NOW).entries
    assert "traceId" not in entry and "spanId" not in entry


def test_older_deployment_environment_and_precedence() -> None:
    both = {"deployment.environment": "staging", "deployment.environment.name": "production"}
    for resource, env in (({"deployment.environment": "staging"}, "staging"), (both, "production")):
        [entry] = otlp.parse(protobuf_request(resource, [{"body": "x"}]), NOW).entries
        assert entry["environment"] == env and "fields" not in entry


def test_huge_resource_map_rejects_its_records() -> None:
    resource = {f"k{i}": i for i in range(2000)}
    parsed = otlp.parse(protobuf_request(resource, [{"body": "a"}, {"body": "b"}]), NOW)
    assert parsed.entries == []
    assert [i for i, _ in parsed.extra["rejected"]] == [0, 1]
    assert "resource has 2000 attributes" in parsed.extra["rejected"][0][1]


# Whole-request faults: (case, body, message fragment)
BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("malformed protobuf", b"\x0a\xff\xff\xff\xff\x0f", "invalid OTLP protobuf"),
    ("not JSON", b"{resourceLogs", "invalid OTLP/JSON"),
    ("JSON but not OTLP", b'{"resourceLogs": 5}', "resourceLogs"),
    ("no records", b'{"resourceLogs": []}', "no log records"),
    ("too many records", json_doc([{"body": {"stringValue": "x"}}] * 1001), "1001 log records in one request"),
]


@pytest.mark.parametrize(("case", "body", "fragment"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_bodies_raise_parse_error(case: str, body: bytes, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        otlp.parse(body, NOW)
    assert fragment in info.value.message


def test_format_resolution_and_parser() -> None:
    body = protobuf_request({}, [{"body": "x"}])
    assert resolve(None, "application/x-protobuf", body) == "otlp"
    assert resolve("OTLP", None, body) == "otlp"
    assert resolve(None, "application/json", json_doc([])) == "otlp"
    assert parser("otlp")(body, NOW).entries[0]["message"] == "x"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_parse_error(body: bytes) -> None:
    try:
        otlp.parse(body, NOW)
    except ParseError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=20))
def test_random_json_only_raises_parse_error(doc: Any) -> None:
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [doc, {"body": doc, "attributes": doc}]}]}]})
    otlp.parse(body.encode(), NOW)  # records fault one by one; the request itself is OTLP
