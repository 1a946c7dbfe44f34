"""uvicorn's httptools protocol with deadlines for receiving a request's headers and body."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("timberyard.http")


# The answer to a connection past the limit, written before it is closed.
OVER_LIMIT = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 1\r\nconnection: close\r\ncontent-length: 48\r\n\r\n"
    b"too many connections to this server; retry later"
)


class DeadlineProtocol(HttpToolsProtocol):
    """Closes a connection whose headers or body arrive too slowly (slowloris), and
    one that arrives while `limit_concurrency` connections are open.

    uvicorn times out idle keep-alive connections only: a client that sends one
    byte a second would hold its connection, and a descriptor, forever. And it
    applies its concurrency limit only once a request's headers are complete, so
    connections that never complete them would all be kept.
    """

    header_seconds = 10.0
    body_seconds = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        limit = self.limit_concurrency
        if limit is not None and len(self.connections) > limit:
            # Refused at once: its descriptor is freed now, not after the header deadline.
            transport.write(OVER_LIMIT)
            transport.close()
            return
        self._arm(self.header_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the first byte of a keep-alive connection's next request
            self._arm(self.header_seconds, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_seconds, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.info("closing %s: the request %s took longer than %.0fs", client, what, seconds)
        if what == "headers" and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        self.transport.close()


def protocol(header_seconds: float, body_seconds: float) -> type[DeadlineProtocol]:
    """The protocol class for these deadlines (uvicorn's `http=` takes a class)."""
    attrs: dict[str, Any] = {"header_seconds": header_seconds, "body_seconds": body_seconds}
    return type("BoundedHttpToolsProtocol", (DeadlineProtocol,), attrs)
