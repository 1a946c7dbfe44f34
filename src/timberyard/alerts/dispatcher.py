"""The background dispatcher: queue, rules, error groups, intervals and delivery."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from .channels import Channel
from .config import AlertSettings
from .delivery import Sleep, deliver, record
from .grouping import Batch
from .notifiers import EmailNotifier, Notifier, SlackNotifier, WebhookNotifier
from .records import (
    DROPPED,
    FAILED,
    EntrySnapshot,
    ErrorGroup,
    GroupKey,
    Notification,
    severity_of,
)
from .render import entry_link
from .rules import QueryCompiler, Rules
from .store import ChannelSource, DeliveryLog, GroupStore, MemoryDeliveryLog, MemoryGroupStore

logger = logging.getLogger("timberyard.alerts")

# Floor of an organisation without enabled channels: nothing is queued for it.
_NO_CHANNELS = 1 << 30


class Dispatcher:
    """Turns durable entries into notifications, off the request path.

    `submit` only filters and enqueues; a worker task fingerprints, groups,
    applies each channel's rule and interval, and spawns deliveries that
    retry with backoff and write the delivery log.
    """

    def __init__(
        self,
        channels: ChannelSource,
        *,
        settings: AlertSettings | None = None,
        groups: GroupStore | None = None,
        log: DeliveryLog | None = None,
        compile_query: QueryCompiler | None = None,
        clock: Callable[[], float] = time.time,
        notifiers: Mapping[str, Notifier] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings or AlertSettings()
        self.groups: GroupStore = groups if groups is not None else MemoryGroupStore()
        self.log: DeliveryLog = log if log is not None else MemoryDeliveryLog()
        self._source = channels
        self._rules = Rules(compile_query)
        self._clock = clock
        self._sleep = sleep
        self._notifiers: dict[str, Notifier] = dict(notifiers or {})
        self._queue: deque[tuple[str, Mapping[str, Any]]] = deque(maxlen=self.settings.queue_size)
        self._wakeup = asyncio.Event()
        self._floors: dict[str, int] = {}
        self._channels: dict[str, tuple[list[Channel], float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: Counter[str] = Counter()
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._worker: asyncio.Task[None] | None = None
        self._busy = False
        self._stopping = False
        self._client: httpx.AsyncClient | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._last_drop_warning = 0.0
        self.counters: Counter[str] = Counter()

    # -- the hot path ----------------------------------------------------

    def submit(self, org_id: str, entries: Iterable[Mapping[str, Any]]) -> int:
        """Queue durable entries for notification; never blocks. Returns how many were queued.

        O(1) per entry: a flag and a severity check against the organisation's
        lowest channel threshold. When the queue is full the oldest entry is
        dropped and counted. Safe to call from any thread; the entries are
        kept by reference until processed and never modified.
        """
        floor = self._floors.get(org_id, 0)
        if floor >= _NO_CHANNELS:
            return 0
        queue, maxlen = self._queue, self.settings.queue_size
        queued = dropped = 0
        for entry in entries:
            flag = entry.get("send_notification")
            if flag is False:
                continue
            if flag is not True:
                severity = entry.get("severity")
                if not isinstance(severity, int):
                    severity = severity_of(entry)
                if severity < floor:
                    continue
            if len(queue) >= maxlen:
                dropped += 1
            queue.append((org_id, entry))
            queued += 1
        self.counters["queued"] += queued
        if dropped:
            self.counters["dropped"] += dropped
            self._warn_dropped()
        if queued:
            self._wake()
        return queued

    def _wake(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wakeup.set()
        else:
            loop.call_soon_threadsafe(self._wakeup.set)

    def _warn_dropped(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_warning >= 10.0:
            self._last_drop_warning = now
            logger.warning(
                "notification queue full (%d): dropped the oldest entries, %d so far",
                self.settings.queue_size, self.counters["dropped"],
            )  # fmt: skip

    # -- life cycle ------------------------------------------------------

    async def start(self) -> None:
        """Start the worker (and the HTTP client and SMTP threads it sends with)."""
        if self._worker is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wakeup = asyncio.Event()
        self._stopping = False
        s = self.settings
        if not {"webhook", "slack"} <= self._notifiers.keys():
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(s.timeout),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
            self._notifiers.setdefault(
                "webhook",
                WebhookNotifier(self._client, text_limit=s.text_limit, user_agent=s.user_agent),
            )
            self._notifiers.setdefault(
                "slack",
                SlackNotifier(self._client, text_limit=s.text_limit, user_agent=s.user_agent),
            )
        if "email" not in self._notifiers:
            self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="smtp")
            self._notifiers["email"] = EmailNotifier(
                s.smtp, self._executor, text_limit=s.text_limit, subject_limit=s.subject_limit
            )
        self._worker = asyncio.create_task(self._run(), name="timberyard-alerts")
        if self._queue:
            self._wakeup.set()

    async def stop(self, timeout: float = 10.0) -> None:
        """Drain the queue and in-flight deliveries for up to `timeout` seconds, then stop."""
        if self._worker is None:
            return
        deadline = time.monotonic() + timeout
        self._stopping = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._worker), timeout)
        except TimeoutError:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._queue:
            logger.warning("alerts stopped with %d entries not processed", len(self._queue))
            self.counters["unprocessed"] += len(self._queue)
            self._queue.clear()
        tasks = set(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=max(deadline - time.monotonic(), 0))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._worker = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._notifiers.pop("webhook", None)
            self._notifiers.pop("slack", None)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._notifiers.pop("email", None)

    async def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty and no delivery is in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue or self._busy or self._tasks:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def invalidate(self, org_id: str | None = None) -> None:
        """Forget cached channels (after a channel changed) for one or every organisation."""
        if org_id is None:
            self._channels.clear()
            self._floors.clear()
        else:
            self._channels.pop(org_id, None)
            self._floors.pop(org_id, None)

    def stats(self) -> dict[str, int]:
        """Counters: queued, dropped, notifications, delivered, failed, and the queue length."""
        return {**self.counters, "queueLength": len(self._queue), "inFlight": len(self._tasks)}

    # -- the worker ------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.settings.flush_period
        next_tick = loop.time() + period
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wakeup.clear()
                try:
                    async with asyncio.timeout(max(next_tick - loop.time(), 0)):
                        await self._wakeup.wait()
                except TimeoutError:
                    pass
            size = min(len(self._queue), self.settings.batch_size)
            if size:
                batch = [self._queue.popleft() for _ in range(size)]
                self._busy = True
                try:
                    await self._process(batch)
                except Exception:
                    logger.exception("alerts: a batch of %d entries failed", size)
                finally:
                    self._busy = False
                # Fingerprinting is CPU work: let request handlers run between batches.
                await asyncio.sleep(0)
            if loop.time() >= next_tick and not self._stopping:
                try:
                    await self._tick()
                except Exception:
                    logger.exception("alerts: periodic sweep failed")
                next_tick = loop.time() + period

    async def _tick(self) -> None:
        """Refresh stale channel lists, then send what folded while intervals ran."""
        now = time.monotonic()
        for org_id in [o for o, (_, expires) in self._channels.items() if expires <= now]:
            await self._channels_of(org_id, refresh=True)
        await self.flush_due()

    async def _process(self, batch: list[tuple[str, Mapping[str, Any]]]) -> None:
        now = self._clock()
        by_org: dict[str, list[Mapping[str, Any]]] = {}
        for org_id, entry in batch:
            by_org.setdefault(org_id, []).append(entry)
        for org_id, entries in by_org.items():
            channels = await self._channels_of(org_id)
            if not channels:
                continue
            grouped = Batch(org_id, int(now * 1_000_000_000))
            eligible = self._rules.eligible
            for entry in entries:
                targets = [c for c in channels if eligible(entry, c.config)]
                if targets:
                    grouped.add(entry, targets)
            for group in grouped.groups.values():
                stored = await self.groups.record(group.occurrences())
                for share in group.shares.values():
                    snapshot = EntrySnapshot.of(share.last_entry, grouped.now_ns)
                    interval = share.channel.config.group_interval or self.settings.group_interval
                    count = await self.groups.fold(
                        group.key, share.channel.id, share.count, snapshot, now, interval
                    )
                    if count:
                        self._dispatch(share.channel, stored, count, snapshot)

    async def flush_due(self) -> int:
        """Notify folded occurrences whose interval has ended; how many notifications."""
        sent = 0
        while True:
            notices = await self.groups.take_due(self._clock(), limit=100)
            for notice in notices:
                channel = await self._channel(notice.key, notice.channel_id)
                group = await self.groups.get(notice.key)
                if channel is None or group is None:
                    continue
                self._dispatch(channel, group, notice.count, notice.entry)
                sent += 1
            if len(notices) < 100:
                return sent

    async def _channel(self, key: GroupKey, channel_id: str) -> Channel | None:
        for channel in await self._channels_of(key.org_id):
            if channel.id == channel_id:
                return channel
        return None

    async def _channels_of(self, org_id: str, refresh: bool = False) -> list[Channel]:
        """The enabled channels of an organisation, cached; also sets its submit floor."""
        cached = self._channels.get(org_id)
        if cached is not None and not refresh and cached[1] > time.monotonic():
            return cached[0]
        try:
            found = [c for c in await self._source.channels(org_id) if c.config.enabled]
        except Exception:
            logger.exception("alerts: cannot read the channels of organisation %s", org_id)
            return cached[0] if cached else []
        self._channels[org_id] = (found, time.monotonic() + self.settings.channel_cache_ttl)
        self._floors[org_id] = min((c.config.min_severity for c in found), default=_NO_CHANNELS)
        return found

    # -- delivery --------------------------------------------------------

    def _dispatch(
        self, channel: Channel, group: ErrorGroup, count: int, entry: EntrySnapshot
    ) -> None:
        """Start delivering one notification, unless the channel's backlog is full."""
        notification = Notification(
            delivery_id=secrets.token_hex(8),
            channel_id=channel.id,
            key=group.key,
            title=group.title,
            count=count,
            total=group.count,
            first_seen=group.first_seen,
            last_seen=group.last_seen,
            entry=entry,
            link=entry_link(self.settings.public_url, entry.id, entry.project_id),
            sent_at=self._clock(),
        )
        self.counters["notifications"] += 1
        limit = self.settings.concurrency_per_channel + self.settings.backlog_per_channel
        if self._inflight[channel.id] >= limit:
            self.counters["backlogDropped"] += 1
            task = asyncio.create_task(
                record(self.log, notification, 0, DROPPED, None, "channel backlog full")
            )
        else:
            self._inflight[channel.id] += 1
            task = asyncio.create_task(self._deliver(channel, notification))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, channel: Channel, notification: Notification) -> None:
        semaphore = self._semaphores.get(channel.id)
        if semaphore is None:
            semaphore = asyncio.Semaphore(self.settings.concurrency_per_channel)
            self._semaphores[channel.id] = semaphore
        try:
            notifier = self._notifiers.get(channel.config.type)
            if notifier is None:
                await record(
                    self.log, notification, 1, FAILED, None, "no notifier for channel type"
                )
                self.counters["failed"] += 1
                return
            async with semaphore:
                ok = await deliver(
                    notifier,
                    channel,
                    notification,
                    policy=self.settings.retry,
                    timeout=self.settings.timeout,
                    log=self.log,
                    clock=self._clock,
                    sleep=self._sleep,
                )
            self.counters["delivered" if ok else "failed"] += 1
        except asyncio.CancelledError:
            await record(
                self.log, notification, 0, DROPPED, None, "stopped before delivery completed"
            )
            self.counters["failed"] += 1
            raise
        finally:
            self._inflight[channel.id] -= 1
