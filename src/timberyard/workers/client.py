"""A worker's side of the owner: the entry store, the counters and the tail hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..ingest.wal import Record
from ..shared.relay import Relay, Row
from ..storage.entries import EntryStore
from ..storage.errors import StoreError, StoreInternal, StoreRejected, StoreUnavailable
from .rpc import Channel, frame, read_frame

log = logging.getLogger(__name__)

# How far ahead of now a ring's floor goes when its project becomes relayed: rows of
# other workers made durable before they heard of the tail are not in this ring.
FLOOR_MARGIN_MS = 500


def _raise(kind: str, message: str, parameter: str | None) -> StoreError:
    if kind == "StoreRejected":
        return StoreRejected(message, parameter)
    if kind == "StoreUnavailable":
        return StoreUnavailable(message)
    return StoreInternal(message)


class RemoteStore(EntryStore):
    """The owner's entry store, with the EntryStore interface (reads through `EntryReads`)."""

    def __init__(self, path: Path, database: str, cluster: str | None = None) -> None:
        super().__init__(f"owner://{path}", database, cluster)
        # As long as the longest statement (OPTIMIZE ... FINAL of a large table) may take.
        self.channel = Channel(path, timeout=600.0)

    def _call(self, *request: Any) -> Any:
        try:
            answer = self.channel.call(*request)
        except (OSError, EOFError) as exc:  # ConnectionError and timeouts are OSErrors
            raise StoreUnavailable(f"the store process is unreachable: {exc}") from exc
        if answer[0] == "ok":
            return answer[1]
        raise _raise(answer[1], answer[2], answer[3])

    def open(self) -> None:
        """Check that the owner answers (it brought the schema up to date before we started)."""
        self._call("ping")
        self._client = self.channel

    def migrate(self) -> int:
        raise StoreInternal("a worker does not migrate the store: its owner does")

    def insert_rows(
        self, data: bytes | Iterable[bytes], token: str, fmt: str = "JSONEachRow"
    ) -> None:
        self.ensure_open()
        blocks = [data] if isinstance(data, bytes) else list(data)
        self._call("insert", blocks, token, fmt)

    def insert_wal(self, records: list[Record], token: str, fmt: str) -> None:
        """Insert a batch of WAL records: the owner reads them from this worker's segments
        (the page cache holds them), so the rows do not cross the socket."""
        self.ensure_open()
        self._call("insert_wal", records, token, fmt)

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict | None = None
    ) -> Sequence[Sequence[Any]]:
        self.ensure_open()
        return self._call("query", sql, parameters or {}, settings)

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        self.ensure_open()
        return self._call("command", sql, parameters or {})

    def stats(self) -> dict[str, int]:
        return self._call("stats")

    def memory(self) -> dict[str, int]:
        return self._call("memory")

    def optimize(self) -> None:
        self._call("optimize")

    def drop_database(self) -> None:
        self._call("command", f"DROP DATABASE IF EXISTS `{self.database}`", {})

    def close(self) -> None:
        self.channel.close()
        self._client = None


class HubCounters:
    """`RedisCounters`' interface over the owner's counters (exact across the workers).

    The `_async` methods are what the request path awaits: one connection on the
    event loop, requests pipelined and answered in order, so that a worker never
    blocks its loop on the owner. The blocking ones serve threads and rare calls.
    """

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self.channel = Channel(path, timeout=timeout)
        self._writer: asyncio.StreamWriter | None = None
        self._answers: deque[asyncio.Future[Any]] = deque()
        self._reader_task: asyncio.Task[None] | None = None
        self._opening: asyncio.Lock | None = None

    async def _acall(self, *request: Any) -> Any:
        if self._writer is None or self._writer.is_closing():
            await self._open()
        assert self._writer is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._answers.append(future)
        self._writer.write(frame(request))
        answer = await asyncio.wait_for(future, self.timeout)
        if answer[0] != "ok":
            raise ConnectionError(f"the store process refused {request[0]}: {answer[2]}")
        return answer[1]

    async def _open(self) -> None:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._writer is not None and not self._writer.is_closing():
                return
            reader, writer = await asyncio.open_unix_connection(str(self.path))
            self._writer = writer
            self._reader_task = asyncio.create_task(self._read(reader, writer))

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        error: BaseException = ConnectionError("the store process closed the connection")
        try:
            while True:
                answer = await read_frame(reader)
                future = self._answers.popleft()
                if not future.done():  # one that timed out is skipped
                    future.set_result(answer)
        except (EOFError, OSError, IndexError) as exc:
            error = ConnectionError(f"the store process is unreachable: {exc!r}")
        finally:
            writer.close()
            if self._writer is writer:
                self._writer = None
            answers, self._answers = self._answers, deque()
            for future in answers:
                if not future.done():
                    future.set_exception(error)

    async def take_async(self, buckets: list[tuple[str, int]]) -> float:
        return float(await self._acall("take", buckets))

    async def reserve_async(
        self,
        org_id: str,
        month: str,
        count: int,
        quota: int | None,
        hard: bool,
        seed: tuple[int, int] | None = None,
    ) -> tuple[int, int, int] | None:
        found = await self._acall("reserve", org_id, month, count, quota, hard, seed)
        return None if found is None else tuple(found)

    def _call(self, *request: Any) -> Any:
        answer = self.channel.call(*request)
        if answer[0] != "ok":
            raise ConnectionError(f"the store process refused {request[0]}: {answer[2]}")
        return answer[1]

    def take(self, buckets: list[tuple[str, int]]) -> float:
        return float(self._call("take", buckets))

    def reserve(
        self,
        org_id: str,
        month: str,
        count: int,
        quota: int | None,
        hard: bool,
        seed: tuple[int, int] | None = None,
    ) -> tuple[int, int, int] | None:
        found = self._call("reserve", org_id, month, count, quota, hard, seed)
        return None if found is None else tuple(found)

    def release(self, org_id: str, month: str, count: int, quota: int | None) -> int:
        return int(self._call("release", org_id, month, count, quota))

    def usage(self, org_id: str, month: str) -> tuple[int, int] | None:
        found = self._call("usage", org_id, month)
        return None if found is None else tuple(found)

    def close(self) -> None:
        self.channel.close()
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()


class HubRelay(Relay):
    """The relay between the workers of one `serve`, through the owner's hub.

    Unlike Redis's, it relays the rows of a project only while some worker tails
    it (see `owner`): at full speed nobody pays for tails that nobody has open.
    """

    def __init__(
        self,
        path: Path,
        index: int,
        publish: Callable[[str, list[Row]], None],
        on_invalidate: Callable[[], None],
        broker: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__("", publish, on_invalidate, **kwargs)
        self.path = path
        self.index = index
        self.broker = broker
        self.wanted: set[str] = set()
        self._writer: asyncio.StreamWriter | None = None
        self._tickets: dict[int, asyncio.Future[None]] = {}
        self._ticket = 0

    def _connect(self, url: str) -> Any:
        return None

    async def claim_slot(self) -> int:
        """Worker i owns slot i of each millisecond's ids (`serve` allows at most SLOTS)."""
        self.slot = self.index
        return self.index << 17

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send(), name="hub-send"),
            asyncio.create_task(self._receive(), name="hub-receive"),
            asyncio.create_task(self._release_loop(), name="hub-release"),
            asyncio.create_task(self._report(), name="hub-tailing"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._release(float("inf"))
        if self._writer is not None:
            self._writer.close()

    # -- this worker's rows ----------------------------------------------------------

    def rows(self, project_id: str, rows: list[Row]) -> None:
        if not rows:
            return
        if project_id in self.wanted:
            self._hold(project_id, rows)
            self._send_later({"n": self.node, "t": "rows", "p": project_id, "r": rows})
        elif self._held:
            self._hold(project_id, rows)  # behind held rows, in one id order
        else:
            self.publish_local(project_id, rows)

    async def want(self, project_id: str) -> None:
        """Return once every worker relays the project's rows (or after 2 s, logged)."""
        writer = self._writer
        if writer is None:
            return
        self._ticket += 1
        ticket = self._ticket
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tickets[ticket] = future
        writer.write(frame(("want", project_id, ticket)))
        try:
            await asyncio.wait_for(future, 2.0)
        except TimeoutError:
            log.warning("live tail: the other workers did not confirm project %s", project_id)
        finally:
            self._tickets.pop(ticket, None)

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            writer = self._writer
            if writer is None:
                self.stats["dropped"] += 1
                continue
            writer.write(frame(("pub", message)))
            self.stats["published"] += 1
            if writer.transport.get_write_buffer_size() > 16 * 1024 * 1024:
                with contextlib.suppress(ConnectionError):
                    await writer.drain()

    async def _receive(self) -> None:
        backoff = 0.1
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.path))
                writer.write(frame(("stream", self.node)))
                self._writer = writer
                backoff = 0.1
                while True:
                    message = await read_frame(reader)
                    kind = message[0]
                    if kind == "pub":
                        self._handle(message[1])
                    elif kind == "wanted":
                        self._set_wanted(set(message[1]))
                        writer.write(frame(("ack", message[2])))
                        self._subscribed.set()
                    elif kind == "confirmed":
                        future = self._tickets.get(message[1])
                        if future is not None and not future.done():
                            future.set_result(None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._writer = None
                log.warning("hub stream to the store process lost, retrying: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _set_wanted(self, projects: set[str]) -> None:
        floor = (int(time.time() * 1000) + FLOOR_MARGIN_MS) << 20
        for project in projects - self.wanted:
            # This ring lacks the other workers' rows from before: resume reads the store.
            self.broker.raise_floor(project, floor)
        self.wanted = projects

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            writer = self._writer
            if writer is not None:
                writer.write(frame(("tailing", self.broker.tailed_projects())))

    async def _keep_slot(self) -> None:
        return None
