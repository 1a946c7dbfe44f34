"""OTLP/gRPC logs: the `LogsService/Export` method on an optional port (`--otlp-grpc-port`).

The request arrives as protobuf bytes and goes through the same decoder and the
same `export` use-case as OTLP/HTTP. The key comes from the `authorization`
metadata (`Bearer <key>`) or `x-api-key`. Errors end the call with the status code
the OTLP spec names (UNAUTHENTICATED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED with
RetryInfo when a retry can succeed, UNAVAILABLE), the `google.rpc.Status` in the
`grpc-status-details-bin` trailer as grpcio-status would put it.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

from ..errors import TimberyardError
from ..storage.entries import StoreUnavailable
from .common import authorize, credential_of
from .otlp import export, status_message, success_response, unavailable

if TYPE_CHECKING:
    from ..services import Services

SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
log = logging.getLogger("timberyard.otlp")

_STATUS_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


class OtlpGrpcServer:
    """A grpc.aio server answering OTLP log exports for one app's services."""

    def __init__(self, services: Services, host: str, port: int) -> None:
        self.services = services
        self.host = host
        self.port = port
        self._server: aio.Server | None = None

    async def start(self) -> None:
        """Listen on host:port (a port of 0 picks a free one, kept in `port`)."""
        limit = self.services.limits.max_body_bytes
        server = aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.so_reuseport", 0),
            ]
        )
        handler = grpc.method_handlers_generic_handler(
            SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(self.export)}
        )
        server.add_generic_rpc_handlers((handler,))
        self.port = server.add_insecure_port(f"{self.host}:{self.port}")
        await server.start()
        self._server = server
        log.info("OTLP/gRPC logs receiver on %s:%d", self.host, self.port)

    async def stop(self, grace: float = 5.0) -> None:
        """Finish the calls in flight (up to `grace` seconds), then close."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    async def export(self, request: bytes, context: aio.ServicerContext) -> bytes:
        """LogsService/Export: store the records, answer ExportLogsServiceResponse."""
        svc = self.services
        try:
            metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()}
            grant = authorize(svc, credential_of(metadata), "ingest")
            await svc.ingestor.admit(grant)
            exported = await export(svc.ingestor, grant, request, protobuf=True)
        except TimberyardError as error:
            await _abort(context, error)
            raise  # abort raises; this line is never reached
        except StoreUnavailable:
            await _abort(context, unavailable())
            raise
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("unhandled error %s in OTLP/gRPC export", incident)
            await _abort(
                context,
                TimberyardError("INTERNAL", f"internal error {incident}; it has been logged"),
            )
            raise
        return bytes(success_response(exported, protobuf=True).body)


async def _abort(context: Any, error: TimberyardError) -> None:
    status = status_message(error)
    await context.abort(
        _STATUS_BY_NUMBER[status.code],
        error.message,
        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
    )
