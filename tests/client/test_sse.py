"""Server-Sent Events: the parser as a table, and `Client.tail` resuming with Last-Event-ID."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from timberyard.client import APIError, Client
from timberyard.client.sse import Event, parse


@pytest.mark.parametrize(
    ("stream", "events"),
    [
        ("retry: 2000\n\n", [Event("message", "", None, 2000)]),
        ('id: 01\nevent: log\ndata: {"a": 1}\n\n', [Event("log", '{"a": 1}', "01")]),
        (": keep-alive\n\n: another\n\n", []),
        ("data: one\ndata: two\n\n", [Event("message", "one\ntwo")]),
        ("event: log\r\ndata:x\r\n\r\n", [Event("log", "x")]),
        ("data: unterminated", []),  # an event is dispatched only by its blank line
        (
            "id: 1\nevent: reconnect\ndata: {}\n\nid: 2\nevent: log\ndata: {}\n\n",
            [Event("reconnect", "{}", "1"), Event("log", "{}", "2")],
        ),
    ],
)
def test_parse(stream: str, events: list[Event]) -> None:
    assert list(parse(stream.splitlines(keepends=True))) == events


class Dropping(httpx.SyncByteStream):
    """A body that sends some bytes and then loses the connection."""

    def __init__(self, chunks: list[bytes], drop: bool) -> None:
        self.chunks = chunks
        self.drop = drop

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.drop:
            raise httpx.ReadError("connection reset by peer")


def log(entry_id: str, message: str) -> bytes:
    return f"id: {entry_id}\nevent: log\ndata: {json.dumps({'message': message})}\n\n".encode()


def test_tail_resumes_after_a_drop_and_a_reconnect_event() -> None:
    seen: list[httpx.Request] = []
    bodies = [
        Dropping(
            [b"retry: 100\n\n", log("0a", "one"), b": keep-alive\n\n", log("0b", "two")], True
        ),
        Dropping([log("0c", "three"), b"id: 0c\nevent: reconnect\ndata: {}\n\n"], False),
        Dropping([log("0d", "four")], True),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, headers={"Content-Type": "text/event-stream"}, stream=bodies[len(seen) - 1]
        )

    slept: list[float] = []
    reasons: list[str] = []
    with Client(
        "http://ty.test", "rk_x", sleep=slept.append, transport=httpx.MockTransport(answer)
    ) as client:
        stream = client.tail("level:error", on_reconnect=reasons.append)
        got = [next(stream)["message"] for _ in range(4)]
    assert got == ["one", "two", "three", "four"]
    assert [r.headers.get("last-event-id") for r in seen] == [None, "0b", "0c"]
    assert all(r.url.params["q"] == "level:error" for r in seen)
    assert seen[0].headers["authorization"] == "Bearer rk_x"
    assert slept == [0.1]  # the server's retry: after the drop; none after `reconnect`
    assert reasons[1] == "the server asked to resume"


def test_tail_raises_when_the_first_connection_is_refused() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": "this key cannot read", "code": "FORBIDDEN"})

    with Client("http://ty.test", "ik_x", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(APIError, match="this key cannot read"):
            next(client.tail())
