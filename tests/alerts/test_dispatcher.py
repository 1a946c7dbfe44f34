"""The dispatcher: rules, group intervals, the bounded queue, life cycle."""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

from timberyard.alerts import Dispatcher, MemoryChannels, validate_channel

from .conftest import Smtp, add_channel, entry, settings

ORG = "org1"


def compile_query(text: str) -> Any:
    field, _, value = text.partition(":")
    return lambda e: e.get(field) == value


async def test_folded_occurrences_are_counted_into_the_next_notification(
    receiver_factory: Any, make_dispatcher: Any, clock: Any
) -> None:
    hook = receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url, "groupInterval": "10m"}, "h")
    dispatcher = await make_dispatcher(channels)

    dispatcher.submit(ORG, [entry()])
    [first] = await hook.wait_for(1)
    assert (first.json()["count"], first.json()["total"]) == (1, 1)

    for _ in range(5):
        clock.advance(60)
        dispatcher.submit(ORG, [entry()])
        assert await dispatcher.wait_idle()
    assert len(hook.requests) == 1

    clock.advance(300)  # 10 minutes after the first notification
    last = entry()
    dispatcher.submit(ORG, [last])
    [_, second] = await hook.wait_for(2)
    assert (second.json()["count"], second.json()["total"]) == (6, 7)
    assert second.json()["entryId"] == last["id"]
    assert await dispatcher.flush_due() == 0


async def test_each_channel_keeps_its_own_interval_and_threshold(
    receiver_factory: Any, make_dispatcher: Any, clock: Any
) -> None:
    warn, errors = receiver_factory(), receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": warn.url, "minLevel": "warn"}, "w")
    add_channel(channels, ORG, {"type": "webhook", "url": errors.url}, "e")
    dispatcher = await make_dispatcher(channels)

    dispatcher.submit(ORG, [entry(level="warn", message="disk 91% full")])
    await warn.wait_for(1)
    clock.advance(5)
    # The same group at error level still reaches the error channel at once.
    dispatcher.submit(ORG, [entry(level="error", message="disk 99% full")])
    [request] = await errors.wait_for(1)
    assert request.json()["level"] == "error"
    assert await dispatcher.wait_idle()
    assert len(warn.requests) == 1
    [group] = await dispatcher.groups.groups(ORG)
    assert (group.count, group.level) == (2, "error")


async def test_send_notification_and_query_routing(
    receiver_factory: Any, make_dispatcher: Any
) -> None:
    everything, billing = receiver_factory(), receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": everything.url}, "all")
    add_channel(
        channels, ORG, {"type": "slack", "url": billing.url, "query": "service:billing"}, "bill"
    )
    dispatcher = await make_dispatcher(channels, compile_query=compile_query)
    dispatcher.submit(
        ORG,
        [
            entry(level="info", message="deploy done"),  # below the threshold
            entry(level="fatal", message="suppressed", send_notification=False),
            entry(level="success", message="milestone", send_notification=True),
            entry(level="error", message="charge declined", service="billing"),
        ],
    )
    assert await dispatcher.wait_idle()
    assert sorted(r.json()["message"] for r in everything.requests) == [
        "charge declined",
        "milestone",
    ]
    [slack] = billing.requests
    assert "charge declined" in slack.json()["text"]


async def test_a_huge_message_is_truncated_in_notifications_only(
    receiver_factory: Any, smtp_server: Smtp, make_dispatcher: Any
) -> None:
    hook, slack = receiver_factory(), receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url}, "h")
    add_channel(channels, ORG, {"type": "slack", "url": slack.url}, "s")
    add_channel(channels, ORG, {"type": "email", "to": "ops@example.com"}, "m")
    dispatcher = await make_dispatcher(channels, settings=settings(smtp_server.port))
    huge = "Fatal: " + "stack frame at module.function (file.js:10:20)\n" * 1500
    row = entry(level="fatal", message=huge)
    kept = copy.deepcopy(row)
    dispatcher.submit(ORG, [row])

    [request] = await hook.wait_for(1)
    [message] = await slack.wait_for(1)
    [mail] = await smtp_server.handler.wait_for(1)
    payload = request.json()
    assert len(payload["message"]) == 2000
    assert payload["message"].endswith("… [truncated]")
    assert payload["messageTruncated"] is True
    assert payload["messageLength"] == len(huge)
    assert len(message.json()["blocks"][1]["text"]["text"]) <= 3000
    assert len(message.json()["text"]) < 2600
    assert len(mail["Subject"]) <= 150
    assert mail["Subject"].startswith("[Timberyard] FATAL checkout: Fatal: stack frame")
    assert len(mail.get_body().get_content()) < 3000
    assert row == kept  # the stored entry is never touched


async def test_a_full_queue_drops_the_oldest(receiver_factory: Any, clock: Any) -> None:
    hook = receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url}, "h")
    dispatcher = Dispatcher(channels, settings=settings(queue_size=10), clock=clock)
    rows = [entry(message=f"error number {i}") for i in range(25)]
    assert dispatcher.submit(ORG, rows) == 25
    assert dispatcher.stats()["dropped"] == 15
    assert dispatcher.stats()["queueLength"] == 10
    await dispatcher.start()
    try:
        assert await dispatcher.wait_idle()
        [request] = await hook.wait_for(1)
        [group] = await dispatcher.groups.groups(ORG)
        assert group.count == 10
        assert group.sample_entry_id == rows[15]["id"]
        assert request.json()["total"] == 10
    finally:
        await dispatcher.stop()


async def test_stop_drains_what_was_submitted(receiver_factory: Any, clock: Any) -> None:
    hook = receiver_factory(statuses=[500])
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url}, "h")
    dispatcher = Dispatcher(channels, settings=settings(), clock=clock)
    await dispatcher.start()
    dispatcher.submit(ORG, [entry()])
    await dispatcher.stop(timeout=5)
    assert len(hook.requests) == 1
    assert [d.status for d in await dispatcher.log.recent("h")] == ["delivered", "retry"]


async def test_stop_gives_up_on_a_receiver_that_never_answers(
    receiver_factory: Any, clock: Any
) -> None:
    slow = receiver_factory(delay=10)
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": slow.url}, "h")
    dispatcher = Dispatcher(channels, settings=settings(timeout=30), clock=clock)
    await dispatcher.start()
    dispatcher.submit(ORG, [entry()])
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await dispatcher.stop(timeout=0.3)
    assert loop.time() - started < 1.0
    [dropped] = await dispatcher.log.recent("h")
    assert (dropped.status, dropped.error) == ("dropped", "stopped before delivery completed")


async def test_submit_from_another_thread(receiver_factory: Any, make_dispatcher: Any) -> None:
    hook = receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url}, "h")
    dispatcher = await make_dispatcher(channels)
    thread = threading.Thread(target=dispatcher.submit, args=(ORG, [entry(message="threaded")]))
    thread.start()
    thread.join()
    [request] = await hook.wait_for(1)
    assert request.json()["message"] == "threaded"


async def test_organisations_are_separate(receiver_factory: Any, make_dispatcher: Any) -> None:
    a, b = receiver_factory(), receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, "org-a", {"type": "webhook", "url": a.url}, "a")
    add_channel(channels, "org-b", {"type": "webhook", "url": b.url}, "b")
    dispatcher = await make_dispatcher(channels)
    dispatcher.submit("org-a", [entry(message="only for a")])
    dispatcher.submit("org-c", [entry(message="nobody listens")])
    assert await dispatcher.wait_idle()
    assert [r.json()["message"] for r in a.requests] == ["only for a"]
    assert b.requests == []
    assert await dispatcher.groups.groups("org-b") == []


async def test_organisations_without_channels_cost_nothing(
    receiver_factory: Any, make_dispatcher: Any
) -> None:
    channels = MemoryChannels()
    dispatcher = await make_dispatcher(channels)
    dispatcher.submit(ORG, [entry()])
    assert await dispatcher.wait_idle()
    assert dispatcher.submit(ORG, [entry(), entry(send_notification=True)]) == 0

    # A channel added later is picked up once the cache is invalidated.
    hook = receiver_factory()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url}, "h")
    dispatcher.invalidate(ORG)
    assert dispatcher.submit(ORG, [entry(message="now heard")]) == 1
    [request] = await hook.wait_for(1)
    assert request.json()["message"] == "now heard"


async def test_submit_skips_entries_below_every_threshold(
    receiver_factory: Any, make_dispatcher: Any
) -> None:
    hook = receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url}, "h")
    dispatcher = await make_dispatcher(channels)
    dispatcher.submit(ORG, [entry()])
    await hook.wait_for(1)
    rows = [entry(level="info"), entry(level="warn"), entry(level="info", send_notification=True)]
    assert dispatcher.submit(ORG, rows) == 1


async def test_disabled_channels_and_iso_timestamps(
    receiver_factory: Any, make_dispatcher: Any
) -> None:
    on, off = receiver_factory(), receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": on.url}, "on")
    add_channel(channels, ORG, {"type": "webhook", "url": off.url, "enabled": False}, "off")
    dispatcher = await make_dispatcher(channels)
    dispatcher.submit(ORG, [entry(timestamp="2024-01-15T10:30:00.123456789Z")])
    [request] = await on.wait_for(1)
    assert request.json()["entryTimestamp"] == "2024-01-15T10:30:00.123Z"
    assert request.json()["firstSeen"] == "2024-01-15T10:30:00.123Z"
    assert await dispatcher.wait_idle()
    assert off.requests == []


async def test_a_full_channel_backlog_drops_and_logs(clock: Any) -> None:
    gate = asyncio.Event()
    sent: list[str] = []

    class Stuck:
        async def send(self, config: Any, notification: Any) -> int:
            await gate.wait()
            sent.append(notification.delivery_id)
            return 200

    channels = MemoryChannels()
    channels.add(ORG, validate_channel({"type": "webhook", "url": "http://127.0.0.1:1/"}), "h")
    dispatcher = Dispatcher(
        channels,
        settings=settings(concurrency_per_channel=1, backlog_per_channel=2),
        clock=clock,
        notifiers={"webhook": Stuck(), "slack": Stuck()},
    )
    await dispatcher.start()
    try:
        dispatcher.submit(ORG, [entry(message=f"error kind {'x' * i}") for i in range(5)])
        for _ in range(100):
            if dispatcher.stats().get("backlogDropped"):
                break
            await asyncio.sleep(0.01)
        gate.set()
        assert await dispatcher.wait_idle()
        log = await dispatcher.log.recent("h")
        assert sorted(d.status for d in log) == ["delivered"] * 3 + ["dropped"] * 2
        assert len(sent) == 3
    finally:
        await dispatcher.stop()
