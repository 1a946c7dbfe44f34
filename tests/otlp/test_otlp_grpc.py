"""OTLP/gRPC in-process: the receiver on the harness's services, status codes and RetryInfo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from conftest import Harness
from timberyard.api.otlp_grpc import SERVICE, OtlpGrpcServer
from timberyard.errors import TimberyardError

from .records import protobuf_request

BODY = protobuf_request({"service.name": "grpc-in-process"}, [{"body": "hello", "severity": 13}])


@pytest.fixture
async def export(harness: Harness) -> AsyncIterator[Any]:
    server = OtlpGrpcServer(harness.services, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield channel.unary_unary(f"/{SERVICE}/Export")
    finally:
        await channel.close()
        await server.stop(0)


async def failure(call: Any) -> tuple[grpc.StatusCode, status_pb2.Status]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    trailer = dict(info.value.trailing_metadata() or ())
    return info.value.code(), status_pb2.Status.FromString(trailer["grpc-status-details-bin"])


async def test_export_with_bearer_metadata(harness: Harness, export: Any) -> None:
    answer = ExportLogsServiceResponse.FromString(
        await export(BODY, metadata=(("authorization", f"Bearer {harness.keys['ingest']}"),))
    )
    assert not answer.HasField("partial_success")
    await harness.flushed()
    r = await harness.client.get("/v1/logs", params={"q": "service:grpc-in-process"}, headers=harness.auth())
    [entry] = r.json()["logs"]
    assert entry["message"] == "hello" and entry["level"] == "warn"


@pytest.mark.parametrize(
    ("kind", "code"),
    [("read", grpc.StatusCode.PERMISSION_DENIED), ("public", grpc.StatusCode.PERMISSION_DENIED)],
)
async def test_key_without_ingest_scope(harness: Harness, export: Any, kind: str, code: grpc.StatusCode) -> None:
    got, status = await failure(export(BODY, metadata=(("x-api-key", harness.keys[kind]),)))
    assert got == code and "scope" in status.message


@pytest.mark.parametrize(
    ("error", "code", "retry"),
    [
        (TimberyardError("RATE_LIMITED", "Rate limit exceeded", retryAfter=3), grpc.StatusCode.RESOURCE_EXHAUSTED, 3),
        (TimberyardError("QUOTA_EXCEEDED", "monthly quota exhausted"), grpc.StatusCode.RESOURCE_EXHAUSTED, None),
        (TimberyardError("UNAVAILABLE", "store down", retryAfter=5), grpc.StatusCode.UNAVAILABLE, 5),
    ],
)
async def test_refusals_say_whether_to_retry(
    harness: Harness, export: Any, monkeypatch: pytest.MonkeyPatch, error: TimberyardError, code: grpc.StatusCode, retry: int | None
) -> None:
    def refuse(*args: Any, **kw: Any) -> None:
        raise error

    monkeypatch.setattr(harness.services.ingestor, "admit", refuse)
    got, status = await failure(export(BODY, metadata=(("authorization", f"Bearer {harness.keys['server']}"),)))
    assert got == code and status.message == error.message
    if retry is None:
        assert list(status.details) == []
    else:
        info = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(info) and info.retry_delay.seconds == retry
