"""OTLP/HTTP on POST /v1/logs in-process: both encodings, gzip, chunked, partial success, errors."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from conftest import Harness
from timberyard.errors import TimberyardError

from .records import SPAN, TRACE, json_request, protobuf_request

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}
RESOURCE = {"service.name": "checkout", "deployment.environment.name": "production", "host.name": "web-1"}
T = 1_705_320_000_123_456_789
RECORDS = [
    {
        "body": "card declined",
        "severity": 17,
        "time": T,
        "trace": TRACE,
        "span": SPAN,
        "attributes": {"customer": "alice", "amount": 1250, "exception.type": "CardError"},
    },
    {"body": {"event": "retry", "attempt": 2}, "severity": 9, "time": T + 1},
]
ENCODE = {
    "protobuf": (PB, lambda records: protobuf_request(RESOURCE, records)),
    "json": (JS, lambda records: json_request(RESOURCE, records)),
}


async def search(h: Harness, q: str) -> list[dict[str, Any]]:
    await h.flushed()
    r = await h.client.get("/v1/logs", params={"q": q, "limit": 1000}, headers=h.auth())
    assert r.status_code == 200, r.text
    return r.json()["logs"]


def answer(r: Any, protobuf: bool) -> dict[str, Any]:
    """The ExportLogsServiceResponse as a dict in OTLP/JSON's spelling."""
    if protobuf:
        assert r.headers["content-type"] == "application/x-protobuf"
        message = ExportLogsServiceResponse.FromString(r.content)
        if not message.HasField("partial_success"):
            return {}
        ps = message.partial_success
        return {"partialSuccess": {"rejectedLogRecords": ps.rejected_log_records, "errorMessage": ps.error_message}}
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def status(r: Any, protobuf: bool) -> tuple[int, str, list[Any]]:
    """The google.rpc.Status of an error answer: code, message, details."""
    if protobuf:
        assert r.headers["content-type"] == "application/x-protobuf"
        message = status_pb2.Status.FromString(r.content)
        return message.code, message.message, list(message.details)
    doc = r.json()
    return doc["code"], doc["message"], doc.get("details", [])


@pytest.mark.parametrize("encoding", ENCODE)
async def test_export_stores_searchable_mapped_entries(harness: Harness, encoding: str) -> None:
    headers, encode = ENCODE[encoding]
    r = await harness.client.post("/v1/logs", content=encode(RECORDS), headers={**harness.auth(), **headers})
    assert r.status_code == 200, r.content
    assert answer(r, encoding == "protobuf") == {}
    [entry] = await search(harness, f"service:checkout AND traceId:{TRACE} AND fields.customer:alice")
    assert entry["level"] == "error" and entry["message"] == "card declined"
    assert entry["environment"] == "production" and entry["host"] == "web-1" and entry["spanId"] == SPAN
    assert entry["errorName"] == "CardError" and entry["fields"] == {"customer": "alice", "amount": 1250}
    [other] = await search(harness, "retry AND fields.amount:* OR attempt")
    assert json.loads(other["message"]) == {"event": "retry", "attempt": 2}
    assert len(await search(harness, "fields.amount:>1000")) == 1


async def test_gzip_and_chunked_body_without_content_length(harness: Harness) -> None:
    body = gzip.compress(protobuf_request(RESOURCE, RECORDS))

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 17):
            yield body[i : i + 17]

    headers = {**harness.auth(), **PB, "Content-Encoding": "gzip"}
    r = await harness.client.post("/v1/logs", content=chunks(), headers=headers)
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 200, r.content
    assert len(await search(harness, "service:checkout")) == 2


@pytest.mark.parametrize("encoding", ENCODE)
async def test_partial_success_names_the_rejected_records(harness: Harness, encoding: str) -> None:
    headers, encode = ENCODE[encoding]
    records = [{"body": "kept"}, {"severity": 9}, {"body": "x" * 70_000}]  # no body; message too long
    r = await harness.client.post("/v1/logs", content=encode(records), headers={**harness.auth(), **headers})
    assert r.status_code == 200, r.content
    partial = answer(r, encoding == "protobuf")["partialSuccess"]
    assert int(partial["rejectedLogRecords"]) == 2
    assert partial["errorMessage"].startswith("2 log records rejected: record 1: log record has no body")
    assert "record 2: message is 70000 bytes" in partial["errorMessage"]
    assert [e["message"] for e in await search(harness, "service:checkout")] == ["kept"]


# (case, headers, body, kind, HTTP status, google.rpc code, message fragment)
HUGE = protobuf_request(RESOURCE, [{"body": "x", "attributes": {f"a{i}": i for i in range(3000)}}])
ERRORS: list[tuple[str, dict[str, str], bytes, str, int, int, str]] = [
    ("malformed protobuf", PB, b"\x0a\xff\xff\xff\xff\x0f", "server", 400, code_pb2.INVALID_ARGUMENT, "invalid OTLP protobuf"),
    ("garbage bytes", PB, b"\xff" * 40, "server", 400, code_pb2.INVALID_ARGUMENT, "invalid OTLP protobuf"),
    ("huge attribute map", PB, HUGE, "server", 400, code_pb2.INVALID_ARGUMENT, "3000 attributes; the limit is 1000"),
    ("every record rejected", PB, protobuf_request({}, [{"severity": 9}]), "server", 400, code_pb2.INVALID_ARGUMENT, "no body"),
    ("read-only key", PB, protobuf_request({}, [{"body": "x"}]), "read", 403, code_pb2.PERMISSION_DENIED, "'ingest' scope"),
    ("unknown key", PB, protobuf_request({}, [{"body": "x"}]), "bogus", 401, code_pb2.UNAUTHENTICATED, "Invalid API key"),
    ("unknown AnyValue kind", JS, b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"fooValue":1}}]}]}]}', "server", 400, code_pb2.INVALID_ARGUMENT, "unknown AnyValue kind 'fooValue'"),
    ("resourceLogs not an array", JS, b'{"resourceLogs": {"a": 1}}', "server", 400, code_pb2.INVALID_ARGUMENT, "resourceLogs"),
    ("too many records", JS, json_request({}, [{"body": "x"}] * 1001), "server", 400, code_pb2.INVALID_ARGUMENT, "1001 log records"),
]


@pytest.mark.parametrize(("case", "headers", "body", "kind", "http", "code", "fragment"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_errors_answer_a_status_and_store_nothing(
    harness: Harness, case: str, headers: dict[str, str], body: bytes, kind: str, http: int, code: int, fragment: str
) -> None:
    auth = {"Authorization": "Bearer sk_" + "0" * 32} if kind == "bogus" else harness.auth(kind)
    r = await harness.client.post("/v1/logs", content=body, headers={**auth, **headers})
    assert r.status_code == http, r.content
    got_code, message, _ = status(r, headers is PB)
    assert got_code == code and fragment in message, message
    assert await search(harness, "") == []


async def test_json_that_is_neither_otlp_nor_ours_is_a_400(harness: Harness) -> None:
    r = await harness.client.post("/v1/logs", content=b'{"resourceSpans": []}', headers={**harness.auth(), **JS})
    assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR"
    r = await harness.client.post("/v1/logs?format=otlp", content=b'{"resourceSpans": []}', headers={**harness.auth(), **JS})
    assert r.status_code == 400 and status(r, False)[0] == code_pb2.INVALID_ARGUMENT
    assert await search(harness, "") == []


@pytest.mark.parametrize("encoding", ENCODE)
@pytest.mark.parametrize(
    ("code", "http", "grpc"),
    [("RATE_LIMITED", 429, code_pb2.RESOURCE_EXHAUSTED), ("UNAVAILABLE", 503, code_pb2.UNAVAILABLE)],
)
async def test_retryable_errors_carry_retry_after(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, encoding: str, code: str, http: int, grpc: int
) -> None:
    def refuse(*args: Any, **kw: Any) -> None:
        raise TimberyardError(code, "slow down", headers={"Retry-After": "7"}, retryAfter=7)

    monkeypatch.setattr(harness.services.pipeline, "check_capacity" if code == "UNAVAILABLE" else "submit", refuse)
    if code == "RATE_LIMITED":
        monkeypatch.setattr(harness.services.ingestor, "admit", refuse)
    headers, encode = ENCODE[encoding]
    r = await harness.client.post("/v1/logs", content=encode(RECORDS), headers={**harness.auth(), **headers})
    assert r.status_code == http and r.headers["retry-after"] == "7"
    if code == "RATE_LIMITED" and encoding == "json":
        # Admission comes before the body is read, when an OTLP/JSON body is not yet
        # recognised: the status and Retry-After (what exporters act on) are OTLP's.
        assert r.json()["code"] == "RATE_LIMITED"
        return
    got, message, details = status(r, encoding == "protobuf")
    assert got == grpc and message == "slow down"
    if encoding == "protobuf":
        info = error_details_pb2.RetryInfo()
        assert details[0].Unpack(info) and info.retry_delay.seconds == 7
    else:
        assert details == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
