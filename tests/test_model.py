"""Normalisation of input entries into canonical rows: a table of cases."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from timberyard.errors import ValidationIssue
from timberyard.model import BROWSER_LIMITS, normalise, parse_time

NOW = 1_705_312_200_000_000_000  # 2024-01-15T09:50:00Z


def norm(raw: Any, **kw: Any) -> dict[str, Any]:
    return normalise(raw, now_ns=NOW, **kw)


OK_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"message": "hi"}, {"level": "info", "severity": 2, "message": "hi", "dataset": "default",
                         "ts_ns": NOW}),
    ({"message": "x", "level": "WARNING"}, {"level": "warn", "severity": 4}),
    ({"message": "x", "level": "critical"}, {"level": "fatal", "severity": 6}),
    ({"message": "x", "level": "err"}, {"level": "error"}),
    ({"message": "x", "level": "Information"}, {"level": "info"}),
    ({"message": "x", "level": "dbg"}, {"level": "debug"}),
    ({"message": "x", "level": "emergency"}, {"level": "fatal"}),
    ({"message": "x", "level": "alert"}, {"level": "fatal"}),
    ({"message": "x", "level": "success"}, {"level": "success", "severity": 3}),
    ({"message": "x", "level": "trace"}, {"level": "trace", "severity": 0}),
    ({"message": "x", "source": "api"}, {"service": "api"}),
    ({"message": "x", "app": "api"}, {"service": "api"}),
    ({"message": "x", "fields": {"service": "api"}}, {"service": "api", "fields": '{"service":"api"}'}),
    ({"message": "x", "service": "svc", "fields": {"service": "api"}}, {"service": "svc"}),
    ({"message": "x", "userId": "u1", "sessionId": "s1", "requestId": "r1", "flowId": "f1",
      "traceId": "t1", "spanId": "sp", "errorName": "E", "errorStack": "at x", "instanceId": "i"},
     {"user_id": "u1", "session_id": "s1", "request_id": "r1", "flow_id": "f1", "trace_id": "t1",
      "span_id": "sp", "error_name": "E", "error_stack": "at x", "instance_id": "i"}),
    ({"message": "x", "user_id": "u1"}, {"user_id": "u1"}),
    ({"message": "x", "stepIndex": 3}, {"step_index": 3}),
    ({"message": "x", "stepIndex": 1000}, {"step_index": 1000}),
    ({"message": "x", "tags": ["a", "b"]}, {"tags": ["a", "b"]}),
    ({"message": "x", "data": {"n": 1, "f": 2.5, "nested": {"b": True}}},
     {"fields": '{"n":1,"f":2.5,"nested":{"b":true}}'}),
    ({"message": "x", "details": {"user_id": 12345}}, {"fields": '{"user_id":12345}'}),
    ({"message": "x", "other": 1}, {"fields": '{"other":1}'}),
    ({"message": "x", "id": "client-id"}, {"fields": '{"_id":"client-id"}'}),
    ({"message": "x", "timestamp": "2024-01-15T10:30:00Z"}, {"ts_ns": 1705314600000000000}),
    ({"message": "x", "timestamp": 1705312200000}, {"ts_ns": 1705312200000000000}),
    ({"message": "x", "timestamp": 1705312200}, {"ts_ns": 1705312200000000000}),
    ({"message": "x", "timestamp": 1705312200123456789}, {"ts_ns": 1705312200123456789}),
    ({"message": "x", "timestamp": "2024-01-15T10:30:00.123456789+01:00"},
     {"ts_ns": 1705311000123456789}),
    ({"message": "x", "timestamp": "2024-01-15 10:30:00"}, {"ts_ns": 1705314600000000000}),
    ({"message": "x", "timestamp": "1705312200000"}, {"ts_ns": 1705312200000000000}),
    ({"message": 42}, {"message": "42"}),
    ({"message": {"k": 1}}, {"message": '{"k":1}'}),
    ({"message": "x", "level": None, "service": None}, {"level": "info"}),
]


@pytest.mark.parametrize(("raw", "expected"), OK_CASES)
def test_normalise_ok(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    row = norm(raw)
    for key, value in expected.items():
        assert row[key] == value, (key, row)


def test_query_defaults_fill_only_missing() -> None:
    defaults = {"service": "nginx", "environment": "production", "level": "warn", "dataset": "edge"}
    row = norm({"message": "x"}, defaults=defaults)
    assert (row["service"], row["environment"], row["level"], row["dataset"]) == (
        "nginx", "production", "warn", "edge")
    row = norm({"message": "x", "source": "api", "level": "error", "environment": "dev"}, defaults=defaults)
    assert (row["service"], row["environment"], row["level"]) == ("api", "dev", "error")


BAD_CASES: list[tuple[Any, str]] = [
    ({}, "message is required"),
    ({"message": ""}, "must not be empty"),
    ({"message": "   "}, "must not be empty"),
    ({"message": True}, "message must be a string"),
    ({"message": "x", "level": "banana"}, "unknown level 'banana'"),
    ({"message": "x", "level": 3}, "unknown level 3"),
    ({"message": "x", "tags": ["a"] * 21}, "21 tags given; the limit is 20"),
    ({"message": "x", "tags": ["a" * 51]}, "the limit is 50"),
    ({"message": "x", "tags": [1]}, "tags must be strings"),
    ({"message": "x", "tags": {"a": 1}}, "tags must be a list"),
    ({"message": "x", "stepIndex": 1001}, "stepIndex must be an integer from 0 to 1000"),
    ({"message": "x", "stepIndex": -1}, "stepIndex must be an integer"),
    ({"message": "x", "stepIndex": 1.5}, "stepIndex must be an integer"),
    ({"message": "x", "stepIndex": "abc"}, "stepIndex must be an integer"),
    ({"message": "x", "timestamp": "yesterday"}, "invalid timestamp 'yesterday'"),
    ({"message": "x", "timestamp": True}, "invalid timestamp"),
    ({"message": "x", "timestamp": -5}, "out of range"),
    ({"message": "x", "timestamp": [1]}, "invalid timestamp"),
    ({"message": "x", "data": [1, 2]}, "data must be a JSON object"),
    ({"message": "x", "fields": "text"}, "fields must be a JSON object"),
    ({"message": "x", "source": "s" * 101}, "service is 101 characters long; the limit is 100"),
    ({"message": "x", "userId": {"a": 1}}, "user_id must be a string"),
    ({"message": "x" * 65537}, "message is 65537 bytes long; the limit is 65536 bytes"),
    ({"message": "é" * 40000}, "message is 80000 bytes long"),
    ({"message": "x", "fields": {"big": "y" * 70000}}, "fields are"),
    ("just a string", "an entry must be a JSON object, got str"),
    ([1, 2], "an entry must be a JSON object, got list"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD_CASES)
def test_normalise_rejects(raw: Any, reason: str) -> None:
    with pytest.raises(ValidationIssue) as info:
        norm(raw)
    assert reason in info.value.reason


def test_browser_limits_are_stricter() -> None:
    norm({"message": "x" * 20000})
    with pytest.raises(ValidationIssue, match="16384 bytes"):
        norm({"message": "x" * 20000}, limits=BROWSER_LIMITS)


def test_fields_round_trip_keeps_numbers() -> None:
    sent = {"durationMs": 5230, "ratio": 0.25, "ok": False, "none": None, "list": [1, "a"], "deep": {"a": {"b": 1}}}
    row = norm({"message": "x", "fields": sent})
    assert msgspec.json.decode(row["fields"]) == sent


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        ("2024-01-15T10:30:00Z", 1705314600 * 10**9),
        ("2024-01-15T10:30:00.5Z", 1705314600 * 10**9 + 500_000_000),
        ("2024-01-15T10:30:00.123456Z", 1705314600 * 10**9 + 123_456_000),
        ("2024-01-15T10:30:00,25Z", 1705314600 * 10**9 + 250_000_000),
        (1705314600.25, 1705314600 * 10**9 + 250_000_000),
        (1705314600250, 1705314600 * 10**9 + 250_000_000),
        (1705314600250000, 1705314600 * 10**9 + 250_000_000),
    ],
)
def test_parse_time(value: Any, ns: int) -> None:
    assert parse_time(value) == ns
