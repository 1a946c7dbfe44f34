"""GET /v1/tail: matching entries as Server-Sent Events as they are ingested.

Events: `log` (id: the entry id, data: the entry as GET /v1/logs shows it);
`reconnect` (the stream ends; resume with Last-Event-ID, which its id sets);
`: keep-alive` comments while idle. `Last-Event-ID` (header) or `lastEventId`
(parameter) resumes after that entry without loss or repeats.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import query as ql
from ..errors import TimberyardError
from ..query.matcher import matcher
from ..storage.reader import parse_id
from ..tail import Broker, Replay, Subscriber, row_entry
from .common import authenticate, services

RETRY_MS = 2000
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_encode = msgspec.json.Encoder().encode


class EventStream(StreamingResponse):
    """A text/event-stream response that runs `on_close` however it ends."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None]) -> None:
        super().__init__(content, headers=HEADERS)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Watch for the client going away even where the server would only say
        # so on the next write (ASGI 2.4): a gone tail frees its place at once.
        try:
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                with contextlib.suppress(OSError):
                    await self.stream_response(send)
                group.cancel_scope.cancel()
        finally:
            self.on_close()


def last_event_id(request: Request) -> int | None:
    """The id to resume after, from `Last-Event-ID` or `lastEventId`; None for a fresh tail."""
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if not raw or not raw.strip():
        return None
    found = parse_id(raw.strip())
    if found is None:
        raise TimberyardError(
            "BAD_REQUEST",
            f"invalid Last-Event-ID {raw[:80]!r}: expected an entry id of 16 hexadecimal digits",
        )
    return found


async def tail(request: Request) -> EventStream:
    """GET /v1/tail?q=...: a live tail of the key's project."""
    svc = services(request)
    key = authenticate(request, "read")
    try:
        node = ql.parse(request.query_params.get("q", ""))
        condition = ql.compile(node)
    except ql.QueryError as exc:
        raise exc.to_api() from None
    after = last_event_id(request)
    broker: Broker = svc.tail
    match = matcher(node)
    if svc.relay is not None:
        await svc.relay.want(key.project_id)  # the other processes' rows come here from now
    # Subscribed before any backlog is read, so that nothing falls in between.
    sub = broker.subscribe(key.project_id, match)
    replay = None
    if after is not None:
        replay = Replay(broker, svc.store, key.project_id, match, condition, after)
    return EventStream(_events(broker, sub, replay, after), lambda: broker.unsubscribe(sub))


def log_event(entry_id: int, entry: dict[str, Any]) -> bytes:
    """One `log` event."""
    return b"id: %016x\nevent: log\ndata: %s\n\n" % (entry_id, _encode(entry))


def row_event(row: dict[str, Any]) -> bytes:
    """The `log` event of a pipeline row."""
    return log_event(row["id"], row_entry(row))


def reconnect_event(after: int | None, reason: str) -> bytes:
    """The last event of a stream the client must resume (its id becomes Last-Event-ID)."""
    data = _encode({"reason": reason, "lastEventId": None if after is None else f"{after:016x}"})
    head = b"" if after is None else b"id: %016x\n" % after
    return head + b"event: reconnect\ndata: " + data + b"\n\n"


async def _events(
    broker: Broker, sub: Subscriber, replay: Replay | None, after: int | None
) -> AsyncIterator[bytes]:
    yield b"retry: %d\n\n" % RETRY_MS
    cursor = after
    if replay is not None:
        async for batch in replay:
            yield b"".join(log_event(entry_id, entry) for entry_id, entry in batch)
        cursor = replay.cursor
        if not replay.complete:
            yield reconnect_event(cursor, "more entries to resume than one response sends")
            return
    while True:
        if not await sub.wait(broker.heartbeat_seconds):
            yield b": keep-alive\n\n"
            continue
        chunks = sub.take()
        if sub.overflowed:
            if cursor is None:
                cursor = sub.resume_after
            yield reconnect_event(cursor, "this client fell behind the live tail")
            return
        out = []
        render = broker.rendered
        for rows in chunks:
            for row in rows:
                if cursor is None or row["id"] > cursor:
                    out.append(render(row, row_event))
            if rows and (cursor is None or rows[-1]["id"] > cursor):
                cursor = rows[-1]["id"]
        if out:
            yield b"".join(out)


routes = [Route("/v1/tail", tail, methods=["GET"])]
