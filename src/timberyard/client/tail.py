"""Follow GET /v1/tail: parse its events and reconnect with Last-Event-ID."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from . import sse
from .errors import APIError
from .transport import api_error, connection_failed

if TYPE_CHECKING:
    from .transport import Session

# Longer than the server's heartbeat (15 s): a silent connection is a dead one.
READ_TIMEOUT = 45.0


def follow(
    session: Session,
    q: str = "",
    *,
    last_event_id: str | None = None,
    on_reconnect: Callable[[str], None] | None = None,
    read_timeout: float = READ_TIMEOUT,
) -> Iterator[dict[str, Any]]:
    """Entries of a live tail; the first connection's failure raises, later ones reconnect."""
    last = last_event_id
    delay = 2.0  # the server's `retry:` replaces it
    connected_once = False
    failures = 0
    params = {"q": q} if q else {}
    timeout = httpx.Timeout(session.timeout, read=read_timeout)
    while True:
        headers = {"Accept": "text/event-stream"}
        if last:
            headers["Last-Event-ID"] = last
        reason = "the server ended the stream"
        immediate = False
        try:
            with session.http.stream(
                "GET", "/v1/tail", params=params, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise api_error(response)
                connected_once, failures = True, 0
                for event in sse.parse(response.iter_lines()):
                    if event.retry is not None:
                        delay = event.retry / 1000
                    if event.id is not None:
                        last = event.id
                    if event.event == "log" and event.data:
                        yield json.loads(event.data)
                    elif event.event == "reconnect":
                        reason, immediate = "the server asked to resume", True
                        break
        except httpx.TransportError as exc:
            failed = connection_failed(session.url, exc, session.timeout)
            if not connected_once:
                raise failed from exc
            failures += 1
            reason = failed.reason
        except APIError as exc:
            if not (exc.retryable and connected_once):
                raise
            failures += 1
            reason = exc.message
            if exc.retry_after is not None:
                delay = exc.retry_after
        if on_reconnect is not None:
            on_reconnect(reason)
        if not immediate:
            session.sleep(min(30.0, delay * (2 ** min(failures, 4) if failures > 1 else 1)))
