"""A streaming GET straight against the ASGI app, read as Server-Sent Events.

httpx's ASGITransport waits for the app to finish before it returns a
response, so an endless stream is read here through ASGI receive/send.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass
class Event:
    """One SSE event, or a comment (`event` is "comment")."""

    event: str
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        return json.loads(self.data)


class Stream:
    """An open GET: status and headers once started, then events until closed."""

    def __init__(self, app: Any, path: str, params: dict[str, str], headers: dict[str, str]):
        self.app = app
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode(params).encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.gone = asyncio.Event()
        self.requested = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.ended = False
        self.buffer = b""
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> dict[str, Any]:
        if not self.requested:
            self.requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        await self.sent.put(message)

    async def open(self, timeout: float = 5.0) -> Stream:
        """Start the request; returns once the response has started."""
        self.task = asyncio.create_task(self.app(self.scope, self.receive, self.send))
        start = await asyncio.wait_for(self.sent.get(), timeout)
        assert start["type"] == "http.response.start", start
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return self

    async def read_body(self, timeout: float = 5.0) -> bytes:
        """The whole body of a response that ends (an error)."""
        while not self.ended:
            await self._next(timeout)
        body, self.buffer = self.buffer, b""
        return body

    async def _next(self, timeout: float) -> None:
        message = await asyncio.wait_for(self.sent.get(), timeout)
        assert message["type"] == "http.response.body", message
        self.buffer += message.get("body", b"")
        if not message.get("more_body", False):
            self.ended = True

    async def event(self, timeout: float = 5.0) -> Event:
        """The next event or comment; TimeoutError when none comes in time."""
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self.buffer:
            if self.ended:
                raise EOFError("the stream ended")
            await self._next(max(0.001, deadline - time.monotonic()))
        block, self.buffer = self.buffer.split(b"\n\n", 1)
        return parse(block.decode())

    async def logs(self, count: int, timeout: float = 5.0) -> list[Event]:
        """The next `count` log events, skipping comments and the retry hint."""
        found: list[Event] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            event = await self.event(max(0.001, deadline - time.monotonic()))
            if event.event == "log":
                found.append(event)
            elif event.event not in ("comment", "retry"):
                raise AssertionError(f"unexpected event {event}")
        return found

    async def quiet(self, seconds: float) -> list[Event]:
        """Log events that arrive within `seconds` (to show that none do)."""
        found: list[Event] = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return found
            try:
                event = await self.event(left)
            except TimeoutError:
                return found
            if event.event == "log":
                found.append(event)

    async def close(self) -> None:
        """Disconnect, as a client that goes away."""
        self.gone.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)


def parse(block: str) -> Event:
    """One SSE block (lines up to a blank line)."""
    lines = block.split("\n")
    if all(line.startswith(":") for line in lines):
        return Event("comment", "\n".join(line[1:].strip() for line in lines))
    event = Event("message")
    data: list[str] = []
    for line in lines:
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event.event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event.id = value
        elif name == "retry":
            event.retry = int(value)
            event.event = "retry" if not data else event.event
    event.data = "\n".join(data)
    return event
