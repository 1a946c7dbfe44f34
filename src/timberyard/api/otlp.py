"""OTLP/HTTP logs on POST /v1/logs: protobuf or JSON in, ExportLogsServiceResponse out.

`api/ingest.py` hands a request here when it is OTLP (protobuf Content-Type,
`?format=otlp`, or JSON with `resourceLogs`). Errors answer as a `google.rpc.Status`
in the request's encoding, with the HTTP status of our one error vocabulary and
`Retry-After` on 429 and 503, which is what exporters back off on.
`export` is the use-case that the gRPC service shares.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from starlette.requests import Request
from starlette.responses import Response

from ..errors import ParseError, TimberyardError
from ..formats import otlp as otlp_format
from ..ingest.service import OFFLOAD_BYTES, Ingestor
from ..storage.entries import StoreUnavailable
from ..storage.meta import KeyInfo
from .common import JSONResponse, authenticate, read_body, services

PROTOBUF = "application/x-protobuf"

# Our error codes -> google.rpc.Code, as the OTLP spec asks servers to answer.
GRPC_CODE: dict[str, int] = {
    "BAD_REQUEST": code_pb2.INVALID_ARGUMENT,
    "PARSE_ERROR": code_pb2.INVALID_ARGUMENT,
    "VALIDATION_ERROR": code_pb2.INVALID_ARGUMENT,
    "QUERY_ERROR": code_pb2.INVALID_ARGUMENT,
    "UNAUTHORIZED": code_pb2.UNAUTHENTICATED,
    "QUOTA_EXCEEDED": code_pb2.RESOURCE_EXHAUSTED,  # without RetryInfo: not retryable
    "FORBIDDEN": code_pb2.PERMISSION_DENIED,
    "NOT_FOUND": code_pb2.NOT_FOUND,
    "METHOD_NOT_ALLOWED": code_pb2.UNIMPLEMENTED,
    "CONFLICT": code_pb2.ALREADY_EXISTS,
    "PAYLOAD_TOO_LARGE": code_pb2.INVALID_ARGUMENT,
    "UNSUPPORTED_MEDIA_TYPE": code_pb2.INVALID_ARGUMENT,
    "RATE_LIMITED": code_pb2.RESOURCE_EXHAUSTED,  # with RetryInfo: retry after the delay
    "INTERNAL": code_pb2.INTERNAL,
    "UNAVAILABLE": code_pb2.UNAVAILABLE,
}
# Rejected records named in `errorMessage`; the rest are only counted.
MAX_NAMED_REJECTIONS = 5


@dataclass
class Exported:
    """What one export stored, and the records it rejected with why."""

    accepted: int
    rejected: list[tuple[int, str]]

    def message(self) -> str:
        """The `partialSuccess.errorMessage`: how many were rejected and the first reasons."""
        if not self.rejected:
            return ""
        count = len(self.rejected)
        named = "; ".join(f"record {i}: {why}" for i, why in self.rejected[:MAX_NAMED_REJECTIONS])
        more = f"; and {count - MAX_NAMED_REJECTIONS} more" if count > MAX_NAMED_REJECTIONS else ""
        return f"{count} log record{'s' if count > 1 else ''} rejected: {named}{more}"


async def export(ingestor: Ingestor, grant: KeyInfo, body: bytes, protobuf: bool) -> Exported:
    """Decode one ExportLogsServiceRequest and store its valid records (HTTP and gRPC)."""
    decode = otlp_format.parse_protobuf if protobuf else otlp_format.parse_json
    now_ns = ingestor.clock.now_ns()
    max_records = ingestor.limits.max_entries
    try:
        if len(body) > OFFLOAD_BYTES:
            parsed = await asyncio.to_thread(decode, body, now_ns, max_records)
        else:
            parsed = decode(body, now_ns, max_records)
    except ParseError as exc:
        raise exc.to_api() from None
    rejected: list[tuple[int, str]] = parsed.extra["rejected"]
    if not parsed.entries:
        index, reason = rejected[0]
        raise TimberyardError(
            "VALIDATION_ERROR",
            f"every log record was rejected ({len(rejected)}); record {index}: {reason}",
            issues=[{"index": i, "error": why} for i, why in rejected[:100]],
        )
    try:
        accepted = await ingestor.accept(grant, parsed.entries, surface="otlp")
    except StoreUnavailable:
        raise unavailable() from None
    indexes: list[int] = parsed.extra["indexes"]
    if accepted.errors:
        rejected = sorted(
            rejected + [(indexes[error["index"]], error["error"]) for error in accepted.errors]
        )
    return Exported(accepted.count, rejected)


def unavailable() -> TimberyardError:
    """The 503 of a store that cannot take entries now."""
    return TimberyardError(
        "UNAVAILABLE",
        "the log store is unavailable; retry later",
        headers={"Retry-After": "5"},
        retryAfter=5,
    )


def retry_seconds(error: TimberyardError) -> int | None:
    """The delay a retryable error asks for (429 and 503), else None."""
    if error.code not in ("RATE_LIMITED", "UNAVAILABLE"):
        return None
    value = error.extra.get("retryAfter") or error.headers.get("Retry-After") or 1
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def status_message(error: TimberyardError) -> status_pb2.Status:
    """The `google.rpc.Status` of an error, with RetryInfo when the client should retry."""
    status = status_pb2.Status(code=GRPC_CODE[error.code], message=error.message)
    delay = retry_seconds(error)
    if delay is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=delay)))
        status.details.append(detail)
    return status


def error_response(error: TimberyardError, protobuf: bool) -> Response:
    """An error as OTLP/HTTP answers it: a Status body, our status code, Retry-After."""
    headers = dict(error.headers)
    delay = retry_seconds(error)
    if delay is not None:
        headers.setdefault("Retry-After", str(delay))
    if protobuf:
        body = status_message(error).SerializeToString()
        return Response(body, error.status, headers=headers, media_type=PROTOBUF)
    doc: dict[str, Any] = {"code": GRPC_CODE[error.code], "message": error.message}
    if delay is not None:
        doc["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}
        ]
    return JSONResponse(doc, status_code=error.status, headers=headers)


def success_response(exported: Exported, protobuf: bool) -> Response:
    """The ExportLogsServiceResponse, with partialSuccess when records were rejected."""
    if protobuf:
        response = ExportLogsServiceResponse()
        if exported.rejected:
            response.partial_success.CopyFrom(
                ExportLogsPartialSuccess(
                    rejected_log_records=len(exported.rejected), error_message=exported.message()
                )
            )
        return Response(response.SerializeToString(), media_type=PROTOBUF)
    doc: dict[str, Any] = {}
    if exported.rejected:
        doc["partialSuccess"] = {
            "rejectedLogRecords": len(exported.rejected),
            "errorMessage": exported.message(),
        }
    return JSONResponse(doc)


def is_otlp(request: Request) -> bool:
    """Whether a POST /v1/logs is OTLP before its body is read (protobuf or ?format=otlp)."""
    fmt = request.query_params.get("format", "").strip().lower()
    return fmt == "otlp" or otlp_format.is_protobuf(request.headers.get("content-type"))


def _protobuf(request: Request, body: bytes | None = None) -> bool:
    if otlp_format.is_protobuf(request.headers.get("content-type")):
        return True
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media in ("", "application/octet-stream") and body is not None:
        return body.lstrip()[:1] != b"{"  # ?format=otlp without a telling Content-Type
    return False


async def post_logs(request: Request) -> Response:
    """POST /v1/logs with an OTLP protobuf body (or `?format=otlp`): the whole exchange."""
    protobuf = _protobuf(request)
    try:
        svc = services(request)
        grant = authenticate(request, "ingest")
        await svc.ingestor.admit(grant)
        body = await read_body(request, svc.limits.max_body_bytes)
        protobuf = _protobuf(request, body)
        return success_response(await export(svc.ingestor, grant, body, protobuf), protobuf)
    except TimberyardError as error:
        return error_response(error, protobuf)


async def post_body(request: Request, grant: KeyInfo, body: bytes) -> Response:
    """An OTLP/JSON body that `/v1/logs` recognised after reading it (`resourceLogs`)."""
    try:
        exported = await export(services(request).ingestor, grant, body, protobuf=False)
        return success_response(exported, protobuf=False)
    except TimberyardError as error:
        return error_response(error, protobuf=False)
