"""Pub/sub between the nodes of a deployment: live-tail rows and cache invalidations.

Each node publishes the rows it made durable on one Redis channel, and hands its
own and every other node's rows to its live-tail broker, so a tail on any node sees
entries ingested on every node.

The ordering rule. Entry ids are the millisecond of arrival shifted left 20 bits
plus a counter; every node owns its own eighth of each millisecond's counter space
(a slot claimed in Redis, `Pipeline.id_offset`), so ids never collide across nodes.
Tails resume by id (`Last-Event-ID`: every entry with a larger id), which is exact
only if a tail is handed rows in increasing id order. Rows of two nodes interleave,
so each node holds every row, its own included, until HOLD_SECONDS have passed
since the millisecond in its id, and then releases the held rows in id order. A
row that reaches a node later than that (a node stalled or clocks apart by more
than HOLD_SECONDS) is still delivered, at once, and counted as `late`: only such
rows can be out of order, and so missed by a resume that raced them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec

log = logging.getLogger(__name__)

HOLD_SECONDS = 0.25
SLOTS = 8  # node slots in each millisecond's id space (2**17 ids each)
SLOT_TTL = 30  # seconds a slot stays claimed without a refresh
Row = dict[str, Any]


class Relay:
    """Publishes this node's durable rows and invalidations; receives the other nodes'."""

    def __init__(
        self,
        url: str,
        publish: Callable[[str, list[Row]], None],
        on_invalidate: Callable[[], None],
        prefix: str = "ty",
        hold_seconds: float = HOLD_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client: Any = self._connect(url)
        self.publish_local = publish  # the broker's publish
        self.on_invalidate = on_invalidate
        self.prefix = prefix
        self.channel = f"{prefix}:events"
        self.hold_seconds = hold_seconds
        self.clock = clock
        self.node = uuid.uuid4().hex[:12]  # this process, to skip its own messages
        self.slot = 0
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=10_000)
        self._held: list[tuple[int, int, str, Row]] = []  # (id, arrival, project, row)
        self._arrival = 0
        self._released_ms = 0  # rows up to this id millisecond have been released
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self.stats = {"published": 0, "received": 0, "late": 0, "dropped": 0}

    def _connect(self, url: str) -> Any:
        import redis.asyncio as aioredis

        return aioredis.Redis.from_url(url, socket_connect_timeout=2)

    # -- start and stop ------------------------------------------------------

    async def claim_slot(self) -> int:
        """A node slot no live node holds (0 when Redis cannot say); its id offset."""
        try:
            for slot in range(SLOTS):
                key = f"{self.prefix}:slot:{slot}"
                if await self.client.set(key, self.node, nx=True, ex=SLOT_TTL):
                    self.slot = slot
                    return slot << 17
            log.error("all %d node slots are taken; ids may collide with another node", SLOTS)
        except Exception as exc:
            log.error("redis unreachable at start-up, node slot 0: %s", exc)
        return 0

    async def start(self) -> None:
        """Start publishing, receiving and releasing; returns once subscribed (or 5 s)."""
        self._tasks = [
            asyncio.create_task(self._send(), name="relay-send"),
            asyncio.create_task(self._receive(), name="relay-receive"),
            asyncio.create_task(self._release_loop(), name="relay-release"),
            asyncio.create_task(self._keep_slot(), name="relay-slot"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def stop(self) -> None:
        """Release what is held, stop the tasks, give back the slot."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._release(float("inf"))
        with contextlib.suppress(Exception):
            key = f"{self.prefix}:slot:{self.slot}"
            if await self.client.get(key) == self.node.encode():
                await self.client.delete(key)
        with contextlib.suppress(Exception):
            await self.client.aclose()

    # -- this node's side -----------------------------------------------------

    def rows(self, project_id: str, rows: list[Row]) -> None:
        """A pipeline listener: hold the rows for local tails and send them to the others."""
        if not rows:
            return
        self._hold(project_id, rows)
        self._send_later({"n": self.node, "t": "rows", "p": project_id, "r": rows})

    async def want(self, project_id: str) -> None:
        """Called before a live tail of the project opens here (every row is relayed anyway)."""

    def invalidate(self) -> None:
        """Tell the other nodes that keys, projects or plans changed here."""
        self._send_later({"n": self.node, "t": "keys"})

    def _send_later(self, message: dict[str, Any]) -> None:
        try:
            self._outbox.put_nowait(msgspec.msgpack.encode(message))
        except asyncio.QueueFull:
            self.stats["dropped"] += 1
        except Exception:
            log.exception("cannot encode a relay message")

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await self.client.publish(self.channel, message)
                self.stats["published"] += 1
            except Exception as exc:
                self.stats["dropped"] += 1
                log.warning("relay: cannot publish to redis: %s", exc)
                await asyncio.sleep(0.5)

    # -- the other nodes' side ---------------------------------------------------

    async def _receive(self) -> None:
        backoff = 0.1
        while True:
            try:
                pubsub = self.client.pubsub()
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                backoff = 0.1
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._handle(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relay: redis subscription lost, retrying: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _handle(self, data: bytes) -> None:
        try:
            message = msgspec.msgpack.decode(data)
        except msgspec.DecodeError:
            log.warning("relay: undecodable message ignored")
            return
        if message.get("n") == self.node:
            return
        self.stats["received"] += 1
        if message.get("t") == "rows":
            self._hold(message["p"], message["r"])
        elif message.get("t") == "keys":
            self.on_invalidate()

    # -- the hold: one id order for every tail -------------------------------------

    def _hold(self, project_id: str, rows: list[Row]) -> None:
        for row in rows:
            if row["id"] >> 20 <= self._released_ms:
                self.stats["late"] += 1
            self._arrival += 1
            heapq.heappush(self._held, (row["id"], self._arrival, project_id, row))

    async def _release_loop(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            try:
                self._release(self.clock() - self.hold_seconds)
            except Exception:
                log.exception("relay: releasing held rows failed")

    def _release(self, before: float) -> None:
        """Hand the broker every held row whose id millisecond is before `before`, in id order."""
        cutoff_ms = int(before * 1000) if before != float("inf") else 1 << 62
        held = self._held
        chunk: list[Row] = []
        project = ""
        while held and held[0][0] >> 20 <= cutoff_ms:
            _, _, project_id, row = heapq.heappop(held)
            if chunk and project_id != project:
                self.publish_local(project, chunk)
                chunk = []
            project = project_id
            chunk.append(row)
        if chunk:
            self.publish_local(project, chunk)
        self._released_ms = max(self._released_ms, min(cutoff_ms, 1 << 62))

    async def _keep_slot(self) -> None:
        key = f"{self.prefix}:slot:{self.slot}"
        while True:
            await asyncio.sleep(SLOT_TTL / 3)
            with contextlib.suppress(Exception):
                await self.client.set(key, self.node, ex=SLOT_TTL)
