"""GET /v1/tail through the app: delivery, fan-out, resume, heartbeats, limits and keys."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from conftest import Harness
from timberyard.api import tail as tail_api
from timberyard.tail import Broker

from .sse import Stream


def wire(h: Harness) -> Broker:
    """The app's broker; wired here while app.py does not create one yet."""
    svc = h.services
    broker = getattr(svc, "tail", None)
    if broker is None:
        broker = Broker.from_settings(svc.settings)
        svc.tail = broker  # type: ignore[attr-defined]
        svc.pipeline.listeners.append(broker.publish)
    if not any(getattr(route, "path", None) == "/v1/tail" for route in h.app.router.routes):
        h.app.router.routes.extend(tail_api.routes)
    return broker


@pytest.fixture
def tail_app(make_harness: Callable[..., Any]) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[tuple[Harness, Broker]]:
        async with make_harness(**overrides) as h:
            yield h, wire(h)

    return factory


@pytest.fixture
async def app(tail_app: Callable[..., Any]) -> AsyncIterator[tuple[Harness, Broker]]:
    async with tail_app() as pair:
        yield pair


@contextlib.asynccontextmanager
async def tail(
    h: Harness, q: str = "", key: str | None = None, last: str | None = None
) -> AsyncIterator[Stream]:
    headers = {"Authorization": f"Bearer {key or h.keys['read']}"}
    if last is not None:
        headers["Last-Event-ID"] = last
    stream = await Stream(h.app, "/v1/tail", {"q": q}, headers).open()
    try:
        assert stream.status == 200, await stream.read_body()
        first = await stream.event()
        assert first.retry == 2000
        yield stream
    finally:
        await stream.close()


async def post(h: Harness, *entries: dict[str, Any], key: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {key or h.keys['server']}"}
    r = await h.client.post("/v1/logs", json=list(entries), headers=headers)
    assert r.status_code == 200, r.text


def messages(events: list[Any]) -> list[str]:
    return [event.json()["message"] for event in events]


async def test_matching_entry_arrives_within_a_second(app: tuple[Harness, Broker]) -> None:
    h, _ = app
    async with tail(h, "level:error checkout") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"
        started = time.monotonic()
        await post(h, {"level": "info", "message": "checkout ok"})
        await post(h, {
            "level": "error", "message": "checkout failed", "fields": {"n": 1.5, "o": [None]},
            "timestamp": "2024-01-15T10:30:00.123456789Z", "tags": ["a"], "stepIndex": 2,
            "sessionId": "s-1", "errorName": "E", "errorStack": "at x", "service": "api",
        })
        [event] = await stream.logs(1, timeout=1.0)
        assert time.monotonic() - started < 1.0
        assert event.event == "log" and event.json()["message"] == "checkout failed"
        assert await stream.quiet(0.2) == []
    # The event carries the entry exactly as GET /v1/logs/{id} shows it.
    await h.flushed()
    r = await h.client.get(f"/v1/logs/{event.id}", headers=h.auth())
    assert r.status_code == 200 and r.json() == event.json()
    assert len(event.id or "") == 16


async def test_two_tails_share_one_fan_out(app: tuple[Harness, Broker]) -> None:
    h, broker = app
    async with tail(h, "level:error") as errors, tail(h, "service:web") as web:
        assert broker.subscribers(h.project["id"]) == 2
        assert h.services.pipeline.listeners.count(broker.publish) == 1
        await post(
            h,
            {"level": "error", "message": "e1", "service": "api"},
            {"level": "info", "message": "w1", "service": "web"},
            {"level": "error", "message": "both", "service": "web"},
        )
        assert messages(await errors.logs(2)) == ["e1", "both"]
        assert messages(await web.logs(2)) == ["w1", "both"]
        assert await errors.quiet(0.1) == [] and await web.quiet(0.1) == []
    assert broker.subscribers(h.project["id"]) == 0


async def test_resume_from_the_buffer(app: tuple[Harness, Broker]) -> None:
    h, _ = app
    async with tail(h, "pay*") as stream:
        await post(h, {"message": "payment 1"})
        [seen] = await stream.logs(1)
    await post(h, {"message": "payment 2"}, {"message": "other"}, {"message": "payout 3"})
    async with tail(h, "pay*", last=seen.id) as stream:
        missed = await stream.logs(2)
        assert messages(missed) == ["payment 2", "payout 3"]
        await post(h, {"message": "payment 4"})
        assert messages(await stream.logs(1)) == ["payment 4"]
        assert await stream.quiet(0.1) == []
    ids = [seen.id] + [event.id for event in missed]
    assert ids == sorted(ids) and len(set(ids)) == 3


async def test_resume_from_the_store_then_the_buffer(tail_app: Callable[..., Any]) -> None:
    # Batches of 5 rows go to the store at once; fewer wait (an hour) in the WAL.
    async with tail_app(batch_rows=5, batch_seconds=3600) as (h, broker):
        broker.buffer_rows, broker.settle_seconds = 3, 0
        async with tail(h, "level:error") as stream:
            await post(h, *[{"level": "error", "message": f"first {i}"} for i in range(5)])
            marks = await stream.logs(5)
        mark = marks[1].id
        await h.flushed()
        await post(h, *[{"level": ("error", "info")[i % 2], "message": f"a{i}"} for i in range(5)])
        await h.flushed()
        await post(h, {"level": "error", "message": "b0"}, {"level": "info", "message": "b1"})
        await post(h, {"level": "error", "message": "b2"})
        assert h.services.pipeline.stats()["queuedRows"] == 3  # b0..b2 are not stored yet
        covered, _ = broker.recent(h.project["id"], int(mark, 16))
        assert not covered  # the buffer lost the early rows: the store must answer
        async with tail(h, "level:error", last=mark) as stream:
            resumed = await stream.logs(8)
            assert messages(resumed) == [
                "first 2", "first 3", "first 4", "a0", "a2", "a4", "b0", "b2"
            ]
            assert await stream.quiet(0.2) == []
            await post(h, {"level": "error", "message": "live"})
            assert messages(await stream.logs(1)) == ["live"]
        ids = [int(event.id, 16) for event in resumed]
        assert ids == sorted(set(ids))
        # Entries sent from the buffer are as the store shows them once stored.
        await post(h, {"message": "c0"})  # five rows waiting: one batch
        await h.flushed()
        for event in resumed:
            r = await h.client.get(f"/v1/logs/{event.id}", headers=h.auth())
            assert r.json() == event.json()


async def test_resume_reads_the_store_in_bounded_responses(
    tail_app: Callable[..., Any],
) -> None:
    async with tail_app() as (h, broker):
        broker.replay_page, broker.replay_limit = 2, 3
        async with tail(h) as stream:
            await post(h, {"message": "start"})
            [start] = await stream.logs(1)
        await post(h, *[{"message": f"m{i}"} for i in range(5)])
        await h.flushed()
        broker._rings.clear()  # as if the buffer had moved on
        got: list[str] = []
        last = start.id
        for _ in range(3):
            async with tail(h, last=last) as stream:
                while True:
                    event = await stream.event()
                    if event.event == "log":
                        got.append(event.json()["message"])
                        last = event.id
                    elif event.event == "reconnect":
                        assert event.id == last and event.json()["lastEventId"] == last
                        break
                    if len(got) == 5:
                        break
            if len(got) == 5:
                break
        assert got == [f"m{i}" for i in range(5)]


async def test_heartbeats_while_idle(app: tuple[Harness, Broker]) -> None:
    h, broker = app
    broker.heartbeat_seconds = 0.05
    async with tail(h) as stream:
        beats = [await stream.event(1.0) for _ in range(2)]
        assert [(beat.event, beat.data) for beat in beats] == [("comment", "keep-alive")] * 2


async def test_subscriber_limit_per_project(app: tuple[Harness, Broker]) -> None:
    h, broker = app
    broker.max_subscribers = 2
    async with tail(h), tail(h):
        stream = await Stream(h.app, "/v1/tail", {}, h.auth("read")).open()
        assert stream.status == 429
        body = await stream.read_body()
        assert b'"code":"RATE_LIMITED"' in body
        assert b"too many live tail subscribers for this project (limit 2)" in body
        assert stream.headers["retry-after"] == "5"
        other, keys = h.new_project()
        async with tail(h, key=keys["read"]):
            pass  # the limit is per project
    async with tail(h):  # closed tails free their places
        assert broker.subscribers(h.project["id"]) == 1


@pytest.mark.parametrize(
    ("params", "headers", "status", "code"),
    [
        ({"q": "level:=err"}, {}, 400, "QUERY_ERROR"),
        ({"q": '"unclosed'}, {}, 400, "QUERY_ERROR"),
        ({}, {"Last-Event-ID": "nope"}, 400, "BAD_REQUEST"),
        ({"lastEventId": "123"}, {}, 400, "BAD_REQUEST"),
    ],
)
async def test_bad_requests_fail_before_streaming(
    app: tuple[Harness, Broker], params: dict[str, str], headers: dict[str, str], status: int,
    code: str,
) -> None:
    h, broker = app
    r = await h.client.get("/v1/tail", params=params, headers={**h.auth("read"), **headers})
    assert r.status_code == status and r.json()["code"] == code
    assert r.headers["content-type"] == "application/json"
    assert broker.subscribers(h.project["id"]) == 0


@pytest.mark.parametrize(("kind", "status"), [("ingest", 403), (None, 401)])
async def test_keys(app: tuple[Harness, Broker], kind: str | None, status: int) -> None:
    h, _ = app
    headers = h.auth(kind) if kind else {}
    r = await h.client.get("/v1/tail", headers=headers)
    assert r.status_code == status


async def test_a_key_sees_only_its_project(app: tuple[Harness, Broker]) -> None:
    h, _ = app
    other, keys = h.new_project()
    async with tail(h, key=keys["read"]) as theirs, tail(h) as ours:
        await post(h, {"message": "ours"})
        await post(h, {"message": "theirs"}, key=keys["server"])
        assert messages(await theirs.logs(1)) == ["theirs"]
        assert messages(await ours.logs(1)) == ["ours"]
        assert await theirs.quiet(0.1) == []
    # Resuming with an id of another project's entry shows nothing of it either.
    async with tail(h, key=keys["read"], last="0000000000000000") as theirs:
        assert messages(await theirs.logs(1)) == ["theirs"]
        assert await theirs.quiet(0.1) == []


async def test_slow_client_is_told_to_reconnect(app: tuple[Harness, Broker]) -> None:
    h, broker = app
    broker.queue_rows = 3
    async with tail(h) as stream:
        await post(h, *[{"message": f"m{i}"} for i in range(5)])
        event = await stream.event()
        assert event.event == "reconnect" and event.id is not None
        assert event.json()["lastEventId"] == event.id
        with pytest.raises(EOFError):
            await stream.event()
    assert broker.subscribers(h.project["id"]) == 0 and broker.dropped == 1
    async with tail(h, last=event.id) as stream:
        assert messages(await stream.logs(5)) == [f"m{i}" for i in range(5)]


async def test_disconnect_unsubscribes(app: tuple[Harness, Broker]) -> None:
    h, broker = app
    stream = await Stream(h.app, "/v1/tail", {"q": "x"}, h.auth("read")).open()
    assert broker.subscribers(h.project["id"]) == 1
    await stream.close()
    assert broker.subscribers(h.project["id"]) == 0
    await asyncio.sleep(0)
