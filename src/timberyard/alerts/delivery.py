"""One notification to one channel: attempts, backoff, timeouts and the delivery log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from .channels import Channel
from .config import RetryPolicy
from .notifiers import DeliveryError, Notifier
from .records import DELIVERED, FAILED, RETRY, Delivery, Notification
from .store import DeliveryLog

logger = logging.getLogger("timberyard.alerts")

Sleep = Callable[[float], Awaitable[object]]


async def deliver(
    notifier: Notifier,
    channel: Channel,
    notification: Notification,
    *,
    policy: RetryPolicy,
    timeout: float,
    log: DeliveryLog,
    clock: Callable[[], float],
    sleep: Sleep = asyncio.sleep,
) -> bool:
    """Attempt delivery until it succeeds, fails permanently or runs out of attempts."""
    attempts = max(policy.attempts, 1)
    for attempt in range(1, attempts + 1):
        # Each attempt carries its own send time, so signed timestamps stay fresh.
        current = replace(notification, sent_at=clock())
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                code = await notifier.send(channel.config, current)
        except TimeoutError:
            error = DeliveryError(f"timed out after {timeout:g}s")
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug in a notifier must not kill the dispatcher
            logger.exception("notifier for channel %s raised", channel.id)
            error = DeliveryError(f"unexpected error: {exc!r}", retryable=False)
        else:
            await record(log, current, attempt, DELIVERED, code, None, started)
            return True
        final = attempt == attempts or not error.retryable
        status = FAILED if final else RETRY
        await record(log, current, attempt, status, error.status_code, error.message, started)
        if final:
            logger.warning(
                "notification %s to channel %s failed after %d attempt(s): %s",
                notification.delivery_id, channel.id, attempt, error.message,
            )  # fmt: skip
            return False
        await sleep(policy.delay(attempt, error.retry_after))
    return False


async def record(
    log: DeliveryLog,
    n: Notification,
    attempt: int,
    status: str,
    code: int | None,
    error: str | None,
    started: float | None = None,
) -> None:
    """Append one attempt to the channel's log; a failing log is reported, not raised."""
    duration = None if started is None else round((time.perf_counter() - started) * 1000, 2)
    delivery = Delivery(
        delivery_id=n.delivery_id,
        channel_id=n.channel_id,
        attempt=attempt,
        status=status,
        at=n.sent_at,
        status_code=code,
        error=error,
        duration_ms=duration,
        fingerprint=n.key.fingerprint,
    )
    try:
        await log.record(n.channel_id, delivery)
    except Exception:
        logger.exception("cannot record a delivery of channel %s", n.channel_id)
