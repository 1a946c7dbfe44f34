"""Server-Sent Events: lines in, events out (the text/event-stream grammar)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass
class Event:
    """One dispatched event; `id` is None when the event carried no `id:` field."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


def parse(lines: Iterable[str]) -> Iterator[Event]:
    """Events of a stream's lines; comments (`: ...`) are heartbeats and are skipped."""
    data: list[str] = []
    event = ""
    event_id: str | None = None
    retry: int | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data or event or event_id is not None or retry is not None:
                yield Event(event or "message", "\n".join(data), event_id, retry)
            data, event, event_id, retry = [], "", None, None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            event_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
