"""The real OpenTelemetry clients against a real server: Python (HTTP, gRPC, zero-code) and JS.

One `timberyard serve --otlp-grpc-port` subprocess for the module; each client
sends unchanged and its entries must be searchable with the mapped fields.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serverproc import Server, free_port, init

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "scripts" / "deps" / "node" / "node_modules"
HERE = Path(__file__).parent


class Running:
    def __init__(self, server: Server, key: str, grpc_port: int) -> None:
        self.server, self.key, self.grpc_port = server, key, grpc_port

    def search(self, q: str, expect: int, timeout: float = 20) -> list[dict[str, Any]]:
        """Entries matching `q`, waiting until there are `expect` of them."""
        return self.server.wait_for(self.key, q, expect, timeout)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("otlp") / "data"
    creds = init(data)
    grpc_port = free_port()
    server = Server(data, "--otlp-grpc-port", str(grpc_port), TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        yield Running(server, creds["key"], grpc_port)
    finally:
        server.terminate()
    assert "Traceback" not in server.log.read_text()


def python_sdk_logger(exporter: Any, service: str) -> tuple[logging.Logger, Any]:
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(
        resource=Resource.create(
            {"service.name": service, "service.version": "9.9.9", "deployment.environment.name": "production"}
        )
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    log = logging.getLogger(f"test.{service}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
    return log, provider


def send_with_python_sdk(exporter: Any, service: str) -> None:
    log, provider = python_sdk_logger(exporter, service)
    log.info("python %s hello", service, extra={"customer": "alice", "amount": 1250})
    try:
        raise ValueError("python boom")
    except ValueError:
        log.exception("python %s failed", service)
    provider.force_flush()
    provider.shutdown()


def check_python_entries(running: Running, service: str) -> None:
    logs = running.search(f"service:{service}", 2)
    assert [e["level"] for e in logs] == ["info", "error"], logs
    info, error = logs
    assert info["message"] == f"python {service} hello" and info["version"] == "9.9.9"
    assert info["environment"] == "production"
    assert info["fields"]["customer"] == "alice" and info["fields"]["amount"] == 1250
    assert error["errorName"] == "ValueError" and "python boom" in error["errorStack"]
    assert running.search(f"service:{service} AND fields.customer:alice AND fields.amount:>1000", 1) == [info]


def test_python_sdk_over_http_protobuf(running: Running) -> None:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    exporter = OTLPLogExporter(
        endpoint=f"{running.server.url}/v1/logs", headers={"Authorization": f"Bearer {running.key}"}
    )
    send_with_python_sdk(exporter, "py-http")
    check_python_entries(running, "py-http")


def test_python_sdk_over_grpc(running: Running) -> None:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    exporter = OTLPLogExporter(
        endpoint=f"127.0.0.1:{running.grpc_port}", insecure=True, headers=(("x-api-key", running.key),)
    )
    send_with_python_sdk(exporter, "py-grpc")
    check_python_entries(running, "py-grpc")


def test_grpc_errors_use_otlp_status_codes(running: Running) -> None:
    import grpc
    from google.rpc import status_pb2
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    from .records import protobuf_request

    channel = grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    export = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
    good = protobuf_request({"service.name": "raw-grpc"}, [{"body": "one"}, {"severity": 9}])
    # (metadata, body, expected code)
    cases = [
        ((), good, grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer sk_" + "0" * 32),), good, grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", f"Bearer {running.key}"),), b"\x0a\xff\xff\xff\xff\x0f", grpc.StatusCode.INVALID_ARGUMENT),
        ((("authorization", f"Bearer {running.key}"),), protobuf_request({}, [{"severity": 9}]), grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for metadata, body, code in cases:
        with pytest.raises(grpc.RpcError) as info:
            export(body, metadata=metadata, timeout=10)
        assert info.value.code() == code, info.value.details()
        trailer = dict(info.value.trailing_metadata() or ())
        status = status_pb2.Status.FromString(trailer["grpc-status-details-bin"])
        assert status.code == code.value[0] and status.message == info.value.details()
    answer = ExportLogsServiceResponse.FromString(export(good, metadata=(("authorization", f"Bearer {running.key}"),)))
    assert answer.partial_success.rejected_log_records == 1
    assert "no body" in answer.partial_success.error_message
    assert [e["message"] for e in running.search("service:raw-grpc", 1)] == ["one"]
    channel.close()


def test_zero_code_opentelemetry_instrument(running: Running, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": running.server.url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{running.key}",
        "OTEL_SERVICE_NAME": "zero-code",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=staging,host.name=box-1",
    }
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    out = subprocess.run(
        [str(instrument), sys.executable, str(HERE / "zero_code_app.py")],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    logs = running.search("service:zero-code", 2)
    assert [(e["level"], e["message"]) for e in logs] == [
        ("warn", "zero-code hello from logging"),
        ("error", "zero-code lookup failed"),
    ], out.stderr
    assert logs[0]["environment"] == "staging" and logs[0]["host"] == "box-1"
    assert logs[1]["errorName"] == "KeyError" and "missing" in logs[1]["errorStack"]


@pytest.mark.parametrize("kind", ["http", "proto"])
def test_js_sdk_exporters(running: Running, kind: str) -> None:
    env = {**os.environ, "URL": running.server.url, "KEY": running.key, "NODE_PATH": str(NODE_MODULES)}
    out = subprocess.run(
        ["node", str(HERE / "node_export.cjs"), kind], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    logs = running.search(f"service:node-{kind}", 2)
    assert len(logs) == 2, logs
    error = next(e for e in logs if e["level"] == "error")
    assert error["message"] == "node order failed" and error["errorName"] == "TypeError"
    assert error["fields"]["orderId"] == "o-17" and error["fields"]["attempts"] == 3
    assert error["environment"] == "staging" and error["version"] == "3.2.1"
    assert error["fields"]["otel.scope.name"] == "node-test"
    [kv] = running.search(f"service:node-{kind} AND node-kvlist", 1)
    assert kv["message"] == '{"event":"node-kvlist","items":[1,2]}'
