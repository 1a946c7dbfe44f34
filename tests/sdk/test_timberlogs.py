"""The official Timberlogs Python SDK (`timberlogs-client`), unchanged, against a real server.

Only the module's endpoint constants are pointed at the test server; every call
goes through the SDK's own code: headers (X-API-Key), bodies, batching, flows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import timberlogs.client as sdk
from timberlogs import create_timberlogs
from timberlogs.types import IngestRawOptions, LogEntry, LogOptions

from serverproc import Server, init

pytestmark = pytest.mark.process

NOW_MS = int(time.time() * 1000)
# format -> (body, messages it holds); every format the SDK's ingest_raw knows
RAW: dict[str, tuple[str, list[str]]] = {
    "json": ('{"logs": [{"message": "raw json one"}, {"message": "raw json two", "level": "warn"}]}', ["raw json one", "raw json two"]),
    "jsonl": ('{"message": "raw jsonl one"}\n{"message": "raw jsonl two"}\n', ["raw jsonl one", "raw jsonl two"]),
    "syslog": ("<165>1 2024-01-15T10:30:00.000Z myhost api 1234 - - raw syslog refused\n", ["raw syslog refused"]),
    "text": ("2024-01-15 10:30:00 ERROR raw text refused\n2024-01-15 10:30:01 INFO raw text retrying\n", ["raw text refused", "raw text retrying"]),
    "csv": (f"level,message,timestamp\nerror,raw csv refused,{NOW_MS}\ninfo,raw csv done,{NOW_MS}\n", ["raw csv refused", "raw csv done"]),
    "obl": (
        '{"format": "open-board-log-0.1", "user_id": "user_abc", "sessions": [{"id": "s1", "type": "log",'
        ' "events": [{"id": "e1", "timestamp": "2024-01-15T10:05:00Z", "type": "utterance", "text": "raw obl hello"}]}]}',
        ["Utterance: raw obl hello"],
    ),
}


class Running:
    def __init__(self, server: Server, key: str) -> None:
        self.server, self.key = server, key

    def search(self, q: str, expect: int, timeout: float = 20) -> list[dict[str, Any]]:
        """Entries matching `q`, waiting until there are `expect` of them."""
        return self.server.wait_for(self.key, q, expect, timeout)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("timberlogs") / "data"
    creds = init(data)
    server = Server(data, TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        yield Running(server, creds["key"])
    finally:
        server.terminate()


@pytest.fixture
def timber(running: Running, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(sdk, "LOGS_ENDPOINT", f"{running.server.url}/v1/logs")
    monkeypatch.setattr(sdk, "FLOWS_ENDPOINT", f"{running.server.url}/v1/flows")
    errors: list[Exception] = []
    client = create_timberlogs(
        source="shop-api",
        environment="production",
        api_key=running.key,
        dataset="orders",
        version="2.1.0",
        user_id="user-42",
        session_id="sess-9",
        batch_size=50,
        flush_interval=0,
        on_error=errors.append,
        max_retries=0,
    )
    client.errors = errors
    yield client
    client.disconnect()
    assert errors == []


def test_batched_logs_of_every_level(running: Running, timber: Any) -> None:
    timber.debug("sdk debug", {"cartSize": 3})
    timber.info("sdk info", {"orderId": "o-1", "total": 99.5}, LogOptions(tags=["checkout", "web"]))
    timber.warn("sdk warn", {"retry": True})
    timber.error("sdk error plain", {"code": "E42"})
    timber.log(LogEntry(level="info", message="sdk extras", request_id="req-7", ip_address="203.0.113.9", country="NZ"))
    timber.flush()
    logs = running.search("service:shop-api AND sdk", 5)
    by_message = {e["message"]: e for e in logs}
    assert [e["level"] for e in logs] == ["debug", "info", "warn", "error", "info"]
    for entry in logs:
        assert entry["environment"] == "production" and entry["dataset"] == "orders"
        assert entry["version"] == "2.1.0" and entry["userId"] == "user-42" and entry["sessionId"] == "sess-9"
    info = by_message["sdk info"]
    assert info["tags"] == ["checkout", "web"] and info["fields"] == {"orderId": "o-1", "total": 99.5}
    extras = by_message["sdk extras"]
    assert extras["requestId"] == "req-7"
    assert extras["fields"] == {"ipAddress": "203.0.113.9", "country": "NZ"}
    assert running.search("service:shop-api AND tag:checkout AND fields.orderId:o-1", 1) == [info]
    assert len(running.search("dataset:orders AND userId:user-42 AND level:>=warn AND sdk", 2)) == 2


def test_error_with_an_exception_sends_name_and_stack(running: Running, timber: Any) -> None:
    try:
        raise PermissionError("card vault locked")
    except PermissionError as exc:
        timber.error("sdk charge failed", exc)
    timber.flush()
    [entry] = running.search('"sdk charge failed"', 1)
    assert entry["level"] == "error" and entry["errorName"] == "PermissionError"
    assert entry["errorStack"].startswith("Traceback") and "card vault locked" in entry["errorStack"]
    assert entry["fields"] == {"message": "card vault locked"}
    assert running.search("errorName:PermissionError", 1) == [entry]


def test_flows_from_the_server_and_local(running: Running, timber: Any) -> None:
    flow = asyncio.run(timber.flow_async("checkout"))
    assert flow.name == "checkout" and flow.id.startswith("checkout-") and len(flow.id) == len("checkout-") + 8
    flow.info("flow cart loaded").info("flow payment sent", {"amount": 12})
    try:
        raise TimeoutError("gateway timeout")
    except TimeoutError as exc:
        flow.error("flow payment failed", exc)
    local = timber.flow("refund")
    local.warn("flow refund asked")
    timber.flush()
    # Acknowledged entries are searchable within a second of the 200, not at once.
    running.search(f"flowId:{flow.id}", 3)
    r = httpx.get(f"{running.server.url}/v1/flows/{flow.id}", headers={"X-API-Key": running.key})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["flowId"] == flow.id
    assert [(e["stepIndex"], e["message"]) for e in doc["logs"]] == [
        (0, "flow cart loaded"),
        (1, "flow payment sent"),
        (2, "flow payment failed"),
    ]
    assert doc["logs"][2]["errorName"] == "TimeoutError"
    assert len(running.search(f"flowId:{local.id}", 1)) == 1


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"name": ""}, 400, "invalid flow name"),
        ({"name": 5}, 400, "invalid flow name"),
        ({"name": "x" * 42}, 400, "the limit is 41"),
        ({}, 400, "invalid flow name"),
    ],
)
def test_flow_names_are_checked(running: Running, body: dict[str, Any], status: int, fragment: str) -> None:
    r = httpx.post(f"{running.server.url}/v1/flows", json=body, headers={"X-API-Key": running.key})
    assert r.status_code == status and fragment in r.json()["error"]


@pytest.mark.parametrize("fmt", RAW)
def test_ingest_raw_in_every_format(running: Running, timber: Any, fmt: str) -> None:
    body, messages = RAW[fmt]
    timber.ingest_raw(body, fmt, IngestRawOptions(source=f"raw-{fmt}", environment="staging", dataset="raw"))
    logs = running.search(f"dataset:raw AND environment:staging AND service:raw-{fmt}", len(messages))
    if fmt == "syslog":  # the syslog header names its own app
        logs = running.search("dataset:raw AND environment:staging AND refused", 1)
    assert sorted(e["message"] for e in logs) == sorted(messages)
