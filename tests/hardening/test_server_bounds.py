"""Slow clients against a real server: header and body deadlines (issue 12: 2)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serverproc import Server, init

BOUND = 2.0  # the deadlines the server is started with, seconds


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data: Path = tmp_path_factory.mktemp("bounds") / "data"
    creds = init(data)
    srv = Server(data, TIMBERYARD_HEADER_TIMEOUT=str(BOUND), TIMBERYARD_BODY_TIMEOUT=str(BOUND),
                 TIMBERYARD_LOG_LEVEL="info").start()
    try:
        yield srv, creds["key"]
    finally:
        srv.stop()


def trickle(port: int, head: bytes, drip: bytes, results: dict[str, float | bytes], name: str) -> None:
    """Send `head`, then `drip` one byte every 0.3 s until the server closes the connection."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head)
        sock.settimeout(0.3)
        answer = b""
        for byte in drip:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                chunk = None
            except OSError:
                break
            if chunk is not None:
                answer += chunk
                if chunk == b"":
                    break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
        results[name] = time.monotonic() - started
        results[name + ".answer"] = answer


CASES = {
    "idle": (b"", b"\0" * 60),  # connects, sends nothing (drip of NULs would be a bad request: never sent in time)
    "headers": (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 60),
    "body": (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 100\r\n\r\n", b'{"message": "' + b"s" * 80),
}


def test_slow_clients_are_cut_off_and_others_served(server: tuple[Server, str]) -> None:
    srv, key = server
    results: dict[str, float | bytes] = {}
    threads = []
    for name, (head, drip) in CASES.items():
        if name == "idle":
            drip = b""  # nothing at all: wait for the server to close
        threads.append(threading.Thread(target=trickle if drip else idle,
                                        args=(srv.port, head, drip, results, name)))
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    # Meanwhile others are served at once.
    r = httpx.post(f"{srv.url}/v1/logs", json={"message": "fast"}, headers={"Authorization": f"Bearer {key}"},
                   timeout=5)
    assert r.status_code == 200
    for thread in threads:
        thread.join(30)
    for name in CASES:
        assert isinstance(results[name], float) and results[name] < BOUND + 3, (name, results)
    assert results["idle.answer"].startswith(b"HTTP/1.1 408")  # type: ignore[union-attr]
    assert "Traceback" not in srv.log.read_text()


def idle(port: int, head: bytes, drip: bytes, results: dict[str, float | bytes], name: str) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        answer = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    results[name] = time.monotonic() - started
    results[name + ".answer"] = answer


def test_connections_past_the_limit_are_refused_at_once(tmp_path: Path) -> None:
    """Slow clients that never finish their headers count against the connection limit:
    past it a connection is answered 503 and closed at once, so its descriptor is freed
    without waiting for the header deadline."""
    data = tmp_path / "data"
    creds = init(data)
    limit = 20
    srv = Server(data, TIMBERYARD_MAX_CONNECTIONS=str(limit), TIMBERYARD_HEADER_TIMEOUT="30").start()
    try:
        assert srv.proc is not None
        descriptors = lambda: len(list(Path(f"/proc/{srv.proc.pid}/fd").iterdir()))  # noqa: E731
        before = descriptors()
        slow = []
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            sock.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            slow.append(sock)
        time.sleep(0.5)
        refused = 0
        for sock in slow:
            sock.settimeout(0.05)
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                continue  # held: one of the `limit` connections
            if answer.startswith(b"HTTP/1.1 503"):
                refused += 1
        assert refused >= 100 - limit
        assert descriptors() <= before + limit + 5
        # The server itself stays usable once the slow connections go.
        for sock in slow:
            sock.close()
        time.sleep(0.3)
        r = httpx.post(f"{srv.url}/v1/logs", json={"message": "after"},
                       headers={"Authorization": f"Bearer {creds['key']}"}, timeout=5)
        assert r.status_code == 200
    finally:
        srv.stop()
