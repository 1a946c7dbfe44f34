"""The owner process of `serve --workers N`: the store, shared counters and the tail hub.

The workers call it over a Unix socket (frames of `rpc`). A connection carries
either calls, each answered in order (`("ok", value)` or `("error", kind,
message, parameter)`), or, after `("stream", node)`, the worker's hub stream:

- `("pub", data)` from a worker goes to every other worker's stream: relay
  messages (rows for the live tails, key invalidations), as Redis carries them
  between the nodes of a deployment.
- Rows are relayed only for projects some worker tails (or tailed in the last
  `linger` seconds, so that a tail that reconnects to another worker resumes from
  its ring). A worker opening a tail sends `("want", project, ticket)`; the owner
  tells every worker (`("wanted", projects, version)`), waits until each has
  acknowledged that version (`("ack", version)`) and then answers the opener
  `("confirmed", ticket)`: from then on every worker relays that project's rows.
  Workers report the projects they tail every second (`("tailing", projects)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..ingest.pipeline import merged_blocks
from ..ingest.wal import Record, read_records
from ..storage.entries import EntryStore
from ..storage.errors import StoreError, StoreInternal
from .rpc import frame, read_frame

log = logging.getLogger(__name__)

# A worker whose stream has this much unsent is too slow: its relay messages are dropped.
MAX_STREAM_BACKLOG = 64 * 1024 * 1024


class MemoryCounters:
    """Token buckets and month counters with the semantics of `RedisCounters`, in memory."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}  # scope -> [tokens, stamp, capacity]
        self._usage: dict[tuple[str, str], list[int]] = {}  # (org, month) -> [count, overage]
        self._swept = 0.0

    def take(self, buckets: list[tuple[str, int]]) -> float:
        """Take a token from each (scope, per minute) bucket; the longest wait (0: all pass)."""
        now = self.clock()
        wait = 0.0
        for scope, capacity in buckets:
            rate = capacity / 60.0
            bucket = self._buckets.get(scope)
            if bucket is None or bucket[2] != capacity:
                tokens = float(capacity)
            else:
                tokens = min(capacity, bucket[0] + max(0.0, now - bucket[1]) * rate)
            needed = 0.0
            if tokens >= 1:
                tokens -= 1
            elif rate > 0:
                needed = (1 - tokens) / rate
            else:
                needed = 60.0
            self._buckets[scope] = [tokens, now, capacity]
            wait = max(wait, needed)
        if now - self._swept > 60:
            self._sweep(now)
        return wait

    def _sweep(self, now: float) -> None:
        """Forget buckets idle long enough to be full again (Redis lets them expire)."""
        self._swept = now
        idle = [scope for scope, bucket in self._buckets.items() if now - bucket[1] > 180]
        for scope in idle:
            del self._buckets[scope]

    def reserve(
        self,
        org_id: str,
        month: str,
        count: int,
        quota: int | None,
        hard: bool,
        seed: tuple[int, int] | None = None,
    ) -> tuple[int, int, int] | None:
        """(1, used, overage) if counted, (0, used, 0) if a hard quota refuses; None: seed me."""
        usage = self._usage.get((org_id, month))
        if usage is None:
            if seed is None:
                return None
            usage = self._usage[org_id, month] = [seed[0], seed[1]]
        used = usage[0]
        over = 0
        if quota is not None and used + count > quota:
            if hard:
                return 0, used, 0
            over = min(count, used + count - quota)
        usage[0] += count
        usage[1] += over
        return 1, used + count, over

    def release(self, org_id: str, month: str, count: int, quota: int | None) -> int:
        """Give back `count`; the overage that went with it."""
        usage = self._usage.get((org_id, month))
        if usage is None:
            return 0
        over = max(0, min(count, usage[0] - quota)) if quota is not None else 0
        usage[0] -= count
        usage[1] -= over
        return over

    def usage(self, org_id: str, month: str) -> tuple[int, int] | None:
        """(count, overage) of the month, or None when no worker has counted it yet."""
        found = self._usage.get((org_id, month))
        return None if found is None else (found[0], found[1])


class _Stream:
    """One worker's hub stream."""

    def __init__(self, node: str, writer: asyncio.StreamWriter) -> None:
        self.node = node
        self.writer = writer
        self.tailing: set[str] = set()
        self.acked = 0

    def send(self, data: bytes) -> bool:
        if self.writer.is_closing():
            return False
        if self.writer.transport.get_write_buffer_size() > MAX_STREAM_BACKLOG:
            return False
        self.writer.write(data)
        return True


class Owner:
    """Serves the entry store, the counters and the hub to the workers."""

    def __init__(
        self,
        store: EntryStore,
        *,
        linger: float = 60.0,
        threads: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.counters = MemoryCounters()
        self.linger = linger
        self.clock = clock
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="owner-store")
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._streams: dict[str, _Stream] = {}
        self._seen: dict[str, float] = {}  # project -> when a worker last tailed it
        self._wanted: set[str] = set()
        self._version = 0
        self._added: dict[str, int] = {}  # project -> the version that made it wanted
        # Openers waiting for every worker to know: (version, stream, ticket).
        self._waiting: list[tuple[int, _Stream, int]] = []
        self._expiry: asyncio.Task[None] | None = None
        self.stats = {"calls": 0, "relayed": 0, "dropped": 0}
        self._calls: dict[str, Callable[..., Any]] = {
            "ping": lambda: {"database": store.database, "cluster": store.cluster},
            "query": lambda sql, params, settings: list(store.query(sql, params, settings)),
            "command": store.command,
            "insert": store.insert_rows,
            "insert_wal": self._insert_wal,
            "stats": store.stats,
            "memory": store.memory,
            "optimize": store.optimize,
        }
        self._inline: dict[str, Callable[..., Any]] = {
            "take": self.counters.take,
            "reserve": self.counters.reserve,
            "release": self.counters.release,
            "usage": self.counters.usage,
        }

    def _insert_wal(self, records: list[Record], token: str, fmt: str) -> None:
        """A worker's batch, read from its WAL segments, small blocks merged as it would."""
        self.store.insert_rows(merged_blocks(records, read_records(records)), token, fmt)

    # -- life cycle -------------------------------------------------------------

    async def start(self, path: Path) -> None:
        """Listen on `path` (replacing a socket a previous run left)."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._server = await asyncio.start_unix_server(self._connection, str(path))
        os.chmod(path, 0o600)
        self._expiry = asyncio.create_task(self._expire(), name="owner-interest")

    async def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            if self._connections:
                await asyncio.wait(list(self._connections), timeout=5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- calls ------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while True:
                request = await read_frame(reader)
                if request[0] == "stream":
                    await self._stream(str(request[1]), reader, writer)
                    return
                writer.write(frame(await self._answer(request[0], request[1:])))
                await writer.drain()
        except (EOFError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("store process: a worker connection failed")
        finally:
            writer.close()
            if task is not None:
                self._connections.discard(task)

    async def _answer(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        self.stats["calls"] += 1
        try:
            inline = self._inline.get(op)
            if inline is not None:
                return ("ok", inline(*args))
            call = self._calls.get(op)
            if call is None:
                raise StoreInternal(f"unknown store call {op!r}")
            loop = asyncio.get_running_loop()
            return ("ok", await loop.run_in_executor(self._pool, call, *args))
        except StoreError as exc:
            return ("error", type(exc).__name__, str(exc), getattr(exc, "parameter", None))
        except Exception as exc:  # a bug: the worker answers it as an internal error
            log.exception("store process: %s failed", op)
            return ("error", "StoreInternal", f"{type(exc).__name__}: {exc}", None)

    # -- the hub --------------------------------------------------------------------

    async def _stream(
        self, node: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        stream = _Stream(node, writer)
        self._streams[node] = stream
        stream.acked = self._version  # told below; nothing earlier to wait for
        stream.send(frame(("wanted", sorted(self._wanted), self._version)))
        try:
            while True:
                message = await read_frame(reader)
                kind = message[0]
                if kind == "pub":
                    self._relay(stream, message[1])
                elif kind == "ack":
                    stream.acked = max(stream.acked, int(message[1]))
                    self._confirm()
                elif kind == "want":
                    self._want(stream, str(message[1]), int(message[2]))
                elif kind == "tailing":
                    stream.tailing = set(message[1])
                    now = self.clock()
                    for project in stream.tailing:
                        self._seen[project] = now
        finally:
            if self._streams.get(node) is stream:
                del self._streams[node]
            self._confirm()

    def _relay(self, sender: _Stream, data: bytes) -> None:
        out = frame(("pub", data))
        for stream in list(self._streams.values()):
            if stream is not sender:
                if stream.send(out):
                    self.stats["relayed"] += 1
                else:
                    self.stats["dropped"] += 1

    def _want(self, stream: _Stream, project: str, ticket: int) -> None:
        self._seen[project] = self.clock()
        stream.tailing.add(project)
        if project not in self._wanted:
            self._wanted.add(project)
            self._version += 1
            self._added[project] = self._version
            self._broadcast()
        self._waiting.append((self._added.get(project, 0), stream, ticket))
        self._confirm()

    def _broadcast(self) -> None:
        out = frame(("wanted", sorted(self._wanted), self._version))
        for stream in list(self._streams.values()):
            stream.send(out)

    def _confirm(self) -> None:
        """Answer every opener whose project every connected worker now relays."""
        if not self._waiting:
            return
        known = min((s.acked for s in self._streams.values()), default=self._version)
        still = []
        for version, stream, ticket in self._waiting:
            if version <= known:
                stream.send(frame(("confirmed", ticket)))
            elif stream.node in self._streams:
                still.append((version, stream, ticket))
        self._waiting = still

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = self.clock()
            for stream in self._streams.values():
                for project in stream.tailing:
                    self._seen[project] = now
            gone = {p for p in self._wanted if now - self._seen.get(p, 0) > self.linger}
            if gone:
                self._wanted -= gone
                for project in gone:
                    self._seen.pop(project, None)
                    self._added.pop(project, None)
                self._version += 1
                self._broadcast()
