"""The syslog listener in-process: Python's SysLogHandler over UDP and TCP, raw streams, bad frames."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import logging.handlers
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Harness
from timberyard.ingest import syslog_server
from timberyard.errors import TimberyardError
from timberyard.ingest.syslog_server import SyslogListener, project_grant, tls_context


@pytest.fixture
async def listener(harness: Harness) -> AsyncIterator[SyslogListener]:
    meta = harness.services.meta
    project = harness.project["id"]
    server = SyslogListener(
        harness.services.ingestor, lambda: project_grant(meta, project), "127.0.0.1", 0
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def stored(h: Harness, q: str = "") -> list[dict[str, Any]]:
    await h.flushed()
    r = await h.client.get("/v1/logs", params={"q": q, "limit": 1000}, headers=h.auth("read"))
    assert r.status_code == 200, r.text
    return r.json()["logs"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("socktype", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
async def test_python_syslog_handler(
    harness: Harness, listener: SyslogListener, socktype: socket.SocketKind
) -> None:
    handler = logging.handlers.SysLogHandler(("127.0.0.1", listener.port), socktype=socktype)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger = logging.getLogger(f"billing-{socktype.name}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        # The handler sends from this thread; the listener runs on this loop.
        await asyncio.to_thread(logger.error, "card declined for order %d", 42)
        await asyncio.to_thread(logger.warning, "retrying")
        await asyncio.to_thread(logger.info, "multi\nline message")
    finally:
        logger.removeHandler(handler)
        handler.close()
    await wait_for(lambda: listener.counters["entries"] >= 3)
    logs = await stored(harness, f"service:billing-{socktype.name}")
    found = {log["message"]: log["level"] for log in logs}
    assert found == {
        "card declined for order 42": "error",
        "retrying": "warn",
        "multi\nline message": "info",
    }
    assert listener.counters["malformed"] == 0


async def test_one_connection_carries_every_framing_and_survives_bad_frames(
    harness: Harness, listener: SyslogListener
) -> None:
    def counted(message: bytes) -> bytes:
        return b"%d %s" % (len(message), message)

    frames = [
        counted(b"<165>1 2024-01-15T10:30:00.000Z web-1 api 1234 - - counted frame"),
        b"<34>Jan 15 10:30:00 web-1 api[7]: lf frame\n",
        b"no priority at all\n",  # malformed: counted and skipped
        b"<11>api: nul frame\x00",
        counted(b"<14>1 - web-1 api - - - after the bad one\n"),
        b"999 <14>1 - web-1 api - - - count larger than the data",
    ]
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    for frame in frames:
        writer.write(frame)
        await writer.drain()
    writer.close()
    await writer.wait_closed()
    await wait_for(lambda: listener.counters["malformed"] >= 2 and listener.counters["entries"] >= 4)
    logs = await stored(harness, "service:api")
    assert sorted(log["message"] for log in logs) == [
        "after the bad one",
        "counted frame",
        "lf frame",
        "nul frame",
    ]
    assert {log["host"] for log in logs if log["message"] != "nul frame"} == {"web-1"}
    stats = (await harness.client.get("/health")).json()
    assert "syslog" not in stats  # this listener is not the app's own
    assert listener.stats()["malformed"] == 2 and listener.stats()["frames"] == 5


async def test_udp_drops_are_counted_when_the_pipeline_cannot_keep_up(
    harness: Harness, listener: SyslogListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipeline stalls; the queue is bounded in bytes, so datagrams beyond it drop.
    gate = asyncio.Event()
    original = listener._ingest

    async def stalled(frames: list[bytes], *, retry: bool) -> None:
        await gate.wait()
        await original(frames, retry=retry)

    monkeypatch.setattr(listener, "_ingest", stalled)
    monkeypatch.setattr(syslog_server, "UDP_QUEUE_BYTES", 10_000)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    datagram = b"<14>1 - h flood - - - " + b"x" * 100
    for _ in range(500):
        sock.sendto(datagram, ("127.0.0.1", listener.port))
        await asyncio.sleep(0)
    sock.close()
    await wait_for(lambda: listener.counters["dropped"] > 0)
    assert listener._udp_bytes <= 10_000
    gate.set()
    await wait_for(
        lambda: listener.counters["entries"] + listener.counters["dropped"] >= 500, timeout=20
    )
    assert listener.counters["entries"] > 0


async def test_tls_per_rfc_5425(harness: Harness, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    meta, project = harness.services.meta, harness.project["id"]
    server = SyslogListener(
        harness.services.ingestor,
        lambda: project_grant(meta, project),
        "127.0.0.1",
        0,
        tls=tls_context(str(cert), str(key)),
    )
    await server.start()
    try:
        client = ssl.create_default_context(cafile=str(cert))
        _, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=client, server_hostname="localhost"
        )
        message = b"<14>1 2024-01-15T10:30:00Z h tlsapp - - - over tls"
        writer.write(b"%d %s" % (len(message), message))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await wait_for(lambda: server.counters["entries"] >= 1)
    finally:
        await server.stop()
    assert [log["message"] for log in await stored(harness, "service:tlsapp")] == ["over tls"]
    assert server.stats()["tls"] is True


async def test_stop_stores_what_open_connections_have_read(harness: Harness) -> None:
    meta, project = harness.services.meta, harness.project["id"]
    server = SyslogListener(
        harness.services.ingestor, lambda: project_grant(meta, project), "127.0.0.1", 0
    )
    await server.start()
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"<14>1 - h stopapp - - - sent before the stop\n")
    await writer.drain()
    await wait_for(lambda: server.counters["frames"] >= 1)
    await server.stop()  # the connection is still open
    writer.close()
    assert server.counters["entries"] == 1 and server.counters["connections"] == 0


async def test_stop_under_back_pressure_is_clean(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Senders flooding the listener when it stops: reading is paused by back-pressure and
    the sockets hold unread data. The stop ends every connection without a transport
    error, and what was counted as stored is stored."""
    meta, project = harness.services.meta, harness.project["id"]
    server = SyslogListener(
        harness.services.ingestor, lambda: project_grant(meta, project), "127.0.0.1", 0
    )
    await server.start()
    frame = b"<14>1 - h floodapp - - - %d flooding the listener with frames\n"
    chunk = b"".join(frame % i for i in range(20_000))  # about 1 MB
    writers = []
    for _ in range(3):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(chunk * 4)  # more than the listener's buffers: reading pauses
        writers.append(writer)
    await wait_for(lambda: server.counters["entries"] >= 20_000, timeout=60)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        await server.stop()
    for writer in writers:
        writer.transport.abort()
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not problems, [r.getMessage() for r in problems]
    assert server.counters["connections"] == 0
    await harness.flushed()
    r = await harness.client.get(
        "/v1/logs", params={"q": "service:floodapp", "limit": 1}, headers=harness.auth("read")
    )
    assert r.json()["total"] == server.counters["entries"]


async def test_a_read_is_stored_in_one_batch_up_to_the_shipper_limit(harness: Harness) -> None:
    """What one read of a connection holds (thousands of frames) is one accept, not one per
    1000 entries, and the shipper limit bounds it."""
    meta, project = harness.services.meta, harness.project["id"]
    limits = dataclasses.replace(harness.services.limits, max_entries=3000)
    server = SyslogListener(
        harness.services.ingestor, lambda: project_grant(meta, project), "127.0.0.1", 0, limits=limits
    )
    server._grant = project_grant(meta, project)
    sizes: list[int] = []
    accept = harness.services.ingestor.accept

    async def counting(grant: Any, entries: list[Any], **kw: Any) -> Any:
        sizes.append(len(entries))
        return await accept(grant, entries, **kw)

    harness.services.ingestor.accept = counting  # type: ignore[method-assign]
    try:
        await server._ingest([b"<14>1 - h batchapp - - - frame %d" % i for i in range(5000)], retry=False)
    finally:
        del harness.services.ingestor.accept
    assert sizes == [3000, 2000]
    assert server.counters["entries"] == 5000


async def test_connections_past_the_limit_are_closed_on_arrival(
    listener: SyslogListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(syslog_server, "MAX_TCP_CONNECTIONS", 3)
    held = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(3)]
    await wait_for(lambda: listener.counters["connections"] == 3)
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    with pytest.raises(ConnectionError):  # closed at once, whatever it sends
        while True:
            writer.write(b"<14>1 - h capapp - - - refused\n")
            await writer.drain()
            if await asyncio.wait_for(reader.read(100), 5) == b"":
                raise ConnectionResetError
    assert listener.counters["refused"] == 1 and listener.counters["connections"] == 3
    for _, w in held:  # the held ones still work
        w.write(b"<14>1 - h capapp - - - kept\n")
        await w.drain()
    await wait_for(lambda: listener.counters["entries"] == 3)
    for _, w in held:
        w.close()


def test_an_unknown_project_is_refused_naming_it(harness: Harness) -> None:
    with pytest.raises(TimberyardError, match="prj_nope"):
        project_grant(harness.services.meta, "prj_nope")
