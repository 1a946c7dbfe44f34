"""One real server for the client tests, and a small HTTP server that misbehaves on purpose."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from serverproc import Server, init


@dataclass
class Live:
    """A running server and a server key of its project."""

    url: str
    key: str
    data: Path

    def logs(self, q: str) -> list[dict[str, Any]]:
        """Entries matching `q`, oldest first."""
        r = httpx.get(
            f"{self.url}/v1/logs",
            params={"q": q, "from": "0", "order": "asc", "limit": 10000},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        r.raise_for_status()
        return list(r.json()["logs"])

    def wait_logs(self, q: str, expected: int, timeout: float = 10) -> list[dict[str, Any]]:
        """The entries matching `q` once there are `expected` of them (or the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.logs(q)
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("client-server")
    creds = init(root / "data")
    server = Server(root / "data", TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        yield Live(server.url, creds["key"], root)
    finally:
        server.stop()


@dataclass
class Seen:
    """A request the stub server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Stub:
    """A local HTTP server whose answers a test scripts; it records every request."""

    url: str
    seen: list[Seen] = field(default_factory=list)


Answer = Callable[[Seen, int], tuple[int, dict[str, str], bytes] | None]


@pytest.fixture
def stub() -> Iterator[Callable[[Answer, str | None], Stub]]:
    """`stub(answer, upstream)`: answer(request, n) gives (status, headers, body), or None to
    forward the request to `upstream`."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(answer: Answer, upstream: str | None = None) -> Stub:
        state = Stub("")

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen = Seen(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    self.rfile.read(length),
                    time.monotonic(),
                )
                state.seen.append(seen)
                reply = answer(seen, len(state.seen))
                if reply is None:
                    assert upstream is not None
                    forwarded = httpx.request(
                        self.command,
                        upstream + self.path,
                        content=seen.body,
                        headers={k: v for k, v in seen.headers.items() if k.lower() != "host"},
                    )
                    reply = (
                        forwarded.status_code,
                        {"Content-Type": forwarded.headers.get("content-type", "")},
                        forwarded.content,
                    )
                status, headers, body = reply
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any  # noqa: N815

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
