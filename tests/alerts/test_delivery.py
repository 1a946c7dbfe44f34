"""Delivery: retries with backoff, timeouts, refused connections, the delivery log."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from timberyard.alerts import MemoryChannels, RetryPolicy, SmtpSettings

from .conftest import HOST, Smtp, add_channel, entry, free_port, settings

ORG = "org1"


def statuses(deliveries: list[Any]) -> list[tuple[int, str, int | None]]:
    """(attempt, status, code) oldest first."""
    return [(d.attempt, d.status, d.status_code) for d in reversed(deliveries)]


async def test_a_receiver_that_recovers_gets_the_notification(
    receiver_factory: Any, make_dispatcher: Any
) -> None:
    hook = receiver_factory(statuses=[500, 503])
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url}, "hook")
    dispatcher = await make_dispatcher(channels)
    row = entry(message="payment failed")
    dispatcher.submit(ORG, [row])

    [request] = await hook.wait_for(1)
    assert await dispatcher.wait_idle(5)
    assert request.json()["message"] == "payment failed"
    assert hook.attempts == 3
    log = await dispatcher.log.recent("hook")
    assert statuses(log) == [(1, "retry", 500), (2, "retry", 503), (3, "delivered", 200)]
    assert {d.delivery_id for d in log} == {request.headers["X-Timberyard-Delivery"]}
    assert "receiver is down" in (log[-1].error or "")
    assert all(d.fingerprint == request.json()["fingerprint"] for d in log)
    assert log[0].to_json()["status"] == "delivered"
    assert dispatcher.stats()["delivered"] == 1


async def test_a_permanent_rejection_is_not_retried(
    receiver_factory: Any, make_dispatcher: Any
) -> None:
    slack = receiver_factory(statuses=[404])
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "slack", "url": slack.url}, "slack")
    dispatcher = await make_dispatcher(channels)
    dispatcher.submit(ORG, [entry()])
    assert await dispatcher.wait_idle(5)
    assert slack.attempts == 1
    assert statuses(await dispatcher.log.recent("slack")) == [(1, "failed", 404)]


async def test_too_many_requests_is_retried(receiver_factory: Any, make_dispatcher: Any) -> None:
    hook = receiver_factory(statuses=[429])
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url}, "hook")
    dispatcher = await make_dispatcher(channels)
    dispatcher.submit(ORG, [entry()])
    await hook.wait_for(1)
    assert await dispatcher.wait_idle(5)
    assert statuses(await dispatcher.log.recent("hook")) == [
        (1, "retry", 429),
        (2, "delivered", 200),
    ]


async def test_an_unreachable_host_fails_after_capped_retries(make_dispatcher: Any) -> None:
    channels = MemoryChannels()
    url = f"http://{HOST}:{free_port()}/hook"  # nothing listens: connection refused
    add_channel(channels, ORG, {"type": "webhook", "url": url}, "dead")
    retry = RetryPolicy(attempts=3, base=0.01, max_delay=0.02, jitter=0)
    dispatcher = await make_dispatcher(channels, settings=settings(retry=retry))

    dispatcher.submit(ORG, [entry(message=f"distinct error {i}x{'y' * i}") for i in range(5)])
    spent: list[float] = []
    for _ in range(100):  # 100 requests of 100 entries while deliveries fail
        batch = [entry() for _ in range(100)]
        started = time.perf_counter()
        dispatcher.submit(ORG, batch)
        spent.append(time.perf_counter() - started)
        await asyncio.sleep(0.001)  # the request handler awaits other work
    # A submit that waited for a delivery would be slow every time; a loaded machine
    # may stall any single call for a scheduler slice, so the median is what counts.
    assert statistics.median(spent) < 0.01

    assert await dispatcher.wait_idle(10)
    log = await dispatcher.log.recent("dead", limit=100)
    assert len({d.delivery_id for d in log}) == 6  # 5 distinct groups + the storm's group
    assert len(log) == 18
    for delivery_id in {d.delivery_id for d in log}:
        attempts = [d for d in log if d.delivery_id == delivery_id]
        assert statuses(attempts) == [(1, "retry", None), (2, "retry", None), (3, "failed", None)]
        assert all((d.error or "").startswith("connection failed") for d in attempts)
    assert dispatcher.stats()["failed"] == 6


async def test_a_slow_receiver_times_out(receiver_factory: Any, make_dispatcher: Any) -> None:
    slow = receiver_factory(delay=5.0)
    fast = receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": slow.url}, "slow")
    add_channel(channels, ORG, {"type": "webhook", "url": fast.url}, "fast")
    retry = RetryPolicy(attempts=2, base=0.01, max_delay=0.01, jitter=0)
    dispatcher = await make_dispatcher(channels, settings=settings(retry=retry, timeout=0.2))

    dispatcher.submit(ORG, [entry()])
    spent: list[float] = []
    for _ in range(50):
        batch = [entry() for _ in range(100)]
        started = time.perf_counter()
        dispatcher.submit(ORG, batch)
        spent.append(time.perf_counter() - started)
        await asyncio.sleep(0.001)
    assert statistics.median(spent) < 0.01
    # A broken channel does not hold up the others.
    await fast.wait_for(1, timeout=1.0)

    assert await dispatcher.wait_idle(5)
    log = await dispatcher.log.recent("slow")
    assert statuses(log) == [(1, "retry", None), (2, "failed", None)]
    assert all("timed out" in (d.error or "") for d in log)
    assert all((d.duration_ms or 0) >= 150 for d in log)
    assert slow.attempts == 2


async def test_email_through_a_relay_that_lacks_starttls_fails_clearly(
    smtp_server: Smtp, make_dispatcher: Any
) -> None:
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "email", "to": ["ops@example.com"]}, "mail")
    smtp = SmtpSettings(host=HOST, port=smtp_server.port, starttls=True, timeout=2.0)
    dispatcher = await make_dispatcher(channels, settings=settings(smtp=smtp))
    dispatcher.submit(ORG, [entry()])
    assert await dispatcher.wait_idle(5)
    [failure] = await dispatcher.log.recent("mail")
    assert failure.status == "failed"
    assert failure.error == f"smtp server {HOST}:{smtp_server.port} does not offer STARTTLS"
    assert smtp_server.handler.messages == []


async def test_email_with_a_wrong_password_is_not_retried(
    smtp_server: Smtp, make_dispatcher: Any
) -> None:
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "email", "to": ["ops@example.com"]}, "mail")
    smtp = SmtpSettings(
        host=HOST, port=smtp_server.port, starttls=False, username="alerts", password="nope"
    )
    dispatcher = await make_dispatcher(channels, settings=settings(smtp=smtp))
    dispatcher.submit(ORG, [entry()])
    assert await dispatcher.wait_idle(5)
    [failure] = await dispatcher.log.recent("mail")
    assert (failure.attempt, failure.status, failure.status_code) == (1, "failed", 535)


async def test_email_to_a_closed_port_is_retried(make_dispatcher: Any) -> None:
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "email", "to": ["ops@example.com"]}, "mail")
    smtp = SmtpSettings(host=HOST, port=free_port(), starttls=False, timeout=1.0)
    retry = RetryPolicy(attempts=2, base=0.01, max_delay=0.01, jitter=0)
    dispatcher = await make_dispatcher(channels, settings=settings(smtp=smtp, retry=retry))
    dispatcher.submit(ORG, [entry()])
    assert await dispatcher.wait_idle(5)
    log = await dispatcher.log.recent("mail")
    assert statuses(log) == [(1, "retry", None), (2, "failed", None)]
    assert "refused" in (log[0].error or "").lower()


async def test_email_without_a_configured_relay_fails_once(make_dispatcher: Any) -> None:
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "email", "to": ["ops@example.com"]}, "mail")
    dispatcher = await make_dispatcher(channels)
    dispatcher.submit(ORG, [entry()])
    assert await dispatcher.wait_idle(5)
    [failure] = await dispatcher.log.recent("mail")
    assert failure.error == "smtp is not configured: set the smtp host"


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=8, base=1.0, max_delay=60.0, jitter=0)
    assert [policy.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.delay(1, retry_after=120) == 60
    jittered = RetryPolicy(base=1.0, jitter=0.1)
    assert all(0.9 <= jittered.delay(1) <= 1.1 for _ in range(100))
