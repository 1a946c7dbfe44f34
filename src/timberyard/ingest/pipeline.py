"""The ingestion pipeline: canonical rows -> WAL (group commit) -> batches -> entry store."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..errors import TimberyardError
from ..model import COMPILED
from ..storage import schema
from ..storage.entries import EntryStore, StoreUnavailable
from .wal import Checkpoint, Record, WriteAheadLog

if COMPILED:
    from .._fastmodel import encode_native, merge_native

log = logging.getLogger(__name__)


# Native records with fewer rows are merged into blocks of about MERGED_ROWS rows.
MERGE_BELOW_ROWS = 500
MERGED_ROWS = 65_536


def _encoder(fmt: str) -> Callable[[list[dict[str, Any]]], bytes]:
    """The function that turns canonical rows into one WAL record of `fmt`."""
    if fmt == "Native":
        columns = schema.NATIVE_COLUMNS
        return lambda rows: encode_native(rows, columns)
    return msgspec.json.Encoder().encode_lines

def merged_blocks(batch: list[Record], payloads: Iterable[bytes]) -> Iterator[bytes]:
    """A batch's payloads (read back from the WAL) with small Native blocks merged.

    Each single-entry request is a block of its own, and ClickHouse pays per
    block: a hundred thousand one-row blocks take it half a minute and gigabytes,
    the same rows as a few large blocks a fraction of a second.

    The blocks depend only on the records, so a retried batch sends the same
    blocks: ClickHouse deduplicates a retry by its token and its block structure.
    """
    if batch[0].fmt != "Native" or not COMPILED:
        # Native records replayed by a build without the compiled module go unmerged.
        yield from payloads
        return
    small: list[bytes] = []
    small_rows = 0
    for record, payload in zip(batch, payloads, strict=True):
        if record.rows >= MERGE_BELOW_ROWS:
            if small:
                yield merge_native(small)
                small, small_rows = [], 0
            yield payload
            continue
        small.append(payload)
        small_rows += record.rows
        if small_rows >= MERGED_ROWS:
            yield merge_native(small)
            small, small_rows = [], 0
    if small:
        yield merge_native(small)


Listener = Callable[[str, list[dict[str, Any]]], None]


class Pipeline:
    """Makes accepted rows durable at once and stores them in large batches."""

    def __init__(
        self,
        store: EntryStore,
        wal_dir: Path,
        *,
        batch_rows: int = 100_000,
        batch_seconds: float = 0.25,
        max_unflushed_bytes: int = 256 * 1024 * 1024,
        segment_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        # Records are Native blocks, which ClickHouse takes at half the CPU of JSON
        # lines; without the compiled encoder, JSON lines.
        self.wal = WriteAheadLog(wal_dir, segment_bytes, "Native" if COMPILED else "JSONEachRow")
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.max_unflushed_bytes = max_unflushed_bytes
        self.clock = clock
        self.listeners: list[Listener] = []
        self.node_id = ""
        self._encode = _encoder(self.wal.fmt)
        self._queue: deque[tuple[Record, float]] = deque()
        self._queued_rows = 0
        self._unflushed_bytes = 0
        # (payload, rows, future, project, row dicts) waiting for the next group commit
        self._pending: list[tuple[bytes, int, asyncio.Future[int], str, list[dict[str, Any]]]] = []
        self._write_wake = asyncio.Event()
        self._flush_wake = asyncio.Event()
        self._forced: Checkpoint | None = None
        self._checkpoint = Checkpoint()
        self._last_id = 0
        self.id_offset = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._store_error: str | None = None
        # Any other failure of the flusher (a full disk, no descriptors left...):
        # the message, since when (ms), and how many attempts have failed in all.
        self._flusher_error: str | None = None
        self._flusher_error_since = 0
        self.flush_failures = 0
        self.flushed_rows = 0
        self.store_errors = 0
        # Called with ("insert", seconds) and ("flush_lag", seconds) per stored batch.
        self.observers: list[Callable[[str, float], None]] = []
        # The last WAL record the start-up replay found (0: none); see ready().
        self._replayed_upto = 0
        self._started = False

    # -- life cycle ---------------------------------------------------------

    async def start(self) -> None:
        """Open the WAL, queue what a previous run left unflushed, start the workers."""
        node_file = self.wal.folder / "node-id"
        self.wal.folder.mkdir(parents=True, exist_ok=True)
        if not node_file.exists():
            node_file.write_text(uuid.uuid4().hex)
        self.node_id = node_file.read_text().strip()
        checkpoint, records = await asyncio.to_thread(self.wal.open)
        self._checkpoint = checkpoint
        if (
            checkpoint.pending_last > checkpoint.flushed
            and records
            and records[0].seq == checkpoint.pending_first
        ):
            # The batch in flight when the last run stopped: retry it exactly,
            # with its token, so that a batch the store did take is not stored twice.
            self._forced = checkpoint
        # Replayed records are due at once: reads wait for them (see ready()).
        now = time.monotonic() - self.batch_seconds
        for record in records:
            self._queue.append((record, now))
            self._queued_rows += record.rows
            self._unflushed_bytes += record.length
        if records:
            log.info("replaying %d unflushed rows from the write-ahead log", self._queued_rows)
            self._replayed_upto = records[-1].seq
        self._started = True
        self._tasks = [
            asyncio.create_task(self._writer(), name="wal-writer"),
            asyncio.create_task(self._flusher(), name="store-flusher"),
        ]
        self._flush_wake.set()

    async def stop(self, timeout: float = 30.0) -> None:
        """Flush everything accepted, then stop; what cannot be flushed stays in the WAL."""
        self._stopping = True
        self._write_wake.set()
        self._flush_wake.set()
        try:
            await asyncio.wait_for(asyncio.gather(*self._tasks), timeout)
        except TimeoutError:
            log.warning("store flush did not finish in %.0fs; the WAL keeps the rest", timeout)
            for task in self._tasks:
                task.cancel()
        self.wal.close()

    # -- accepting ----------------------------------------------------------

    def check_capacity(self) -> None:
        """Refuse new rows while too much is waiting for an unreachable store."""
        if self._unflushed_bytes > self.max_unflushed_bytes:
            cause = "unreachable" if self._flusher_error is None else "not taking writes"
            raise TimberyardError(
                "UNAVAILABLE",
                f"the log store is {cause} and the write-ahead log is full; retry later",
                headers={"Retry-After": "5"},
                retryAfter=5,
            )
        if self._stopping:
            raise TimberyardError(
                "UNAVAILABLE",
                "the server is shutting down; retry later",
                headers={"Retry-After": "2"},
                retryAfter=2,
            )

    def assign_ids(self, count: int) -> int:
        """The first of `count` new ids, unique and increasing in arrival order."""
        # id_offset (0 on a single node) gives each node of a deployment its own part
        # of every millisecond's ids, so two nodes never assign the same id.
        base = max(self._last_id + 1, (int(self.clock() * 1000) << 20) + self.id_offset)
        self._last_id = base + count - 1
        return base

    async def submit(
        self, project_id: str, rows: list[dict[str, Any]], ids_assigned: bool = False
    ) -> int:
        """Make rows durable; returns when they are fsynced in the WAL.

        Sets `id` on every row (unless `ids_assigned`: the caller took them from
        assign_ids), and `project_id` and `received_ms` where the caller did not
        (normalise() can set them from its `base`).
        """
        self.check_capacity()
        if not rows:
            return 0
        if not ids_assigned:
            next_id = self.assign_ids(len(rows))
            for row in rows:
                row["id"] = next_id
                next_id += 1
        if rows[0].get("project_id") != project_id:
            received = int(self.clock() * 1000)
            for row in rows:
                row["project_id"] = project_id
                row["received_ms"] = received
        payload = self._encode(rows)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((payload, len(rows), future, project_id, rows))
        self._write_wake.set()
        return await future

    # -- workers ------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            await self._write_wake.wait()
            self._write_wake.clear()
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    records = await asyncio.to_thread(
                        self.wal.write, [item[0] for item in group], [item[1] for item in group]
                    )
                except Exception as exc:  # the writer never dies: this group fails, not the next
                    log.error("write-ahead log append failed: %s", exc)
                    reason = exc.strerror if isinstance(exc, OSError) else None
                    error = TimberyardError(
                        "UNAVAILABLE",
                        f"cannot write the write-ahead log: {reason or type(exc).__name__}",
                        headers={"Retry-After": "5"},
                        retryAfter=5,
                    )
                    for _, _, future, _, _ in group:
                        if not future.done():
                            future.set_exception(error)
                    continue
                now = time.monotonic()
                for (_, count, future, project_id, rows), record in zip(
                    group, records, strict=True
                ):
                    self._queue.append((record, now))
                    self._queued_rows += count
                    self._unflushed_bytes += record.length
                    if not future.done():
                        future.set_result(record.seq)
                    # Published here, not in submit(): durable rows reach the live tail
                    # even when the request that sent them was cancelled meanwhile.
                    self._publish(project_id, rows)
                if self._queued_rows >= self.batch_rows:
                    self._flush_wake.set()
            if self._stopping and not self._pending:
                self._flush_wake.set()
                return

    async def _flusher(self) -> None:
        backoff = 0.1
        while True:
            if not self._queue:
                if self._stopping and not self._pending and self._writer_done():
                    try:
                        await asyncio.to_thread(self._final_checkpoint)
                    except Exception as exc:  # the WAL replays from the last good one
                        log.error("final WAL checkpoint failed: %s", exc)
                    return
                self._flush_wake.clear()
                await self._wait(self.batch_seconds)
                continue
            oldest = self._queue[0][1]
            due = oldest + self.batch_seconds - time.monotonic()
            if self._queued_rows < self.batch_rows and due > 0 and not self._stopping:
                self._flush_wake.clear()
                await self._wait(due)
                continue
            batch = self._take_batch()
            try:
                await asyncio.to_thread(self._insert, batch)
            except Exception as exc:
                # Whatever fails (store, checkpoint, a descriptor limit), the flusher
                # keeps the rows in the WAL and retries: it must never end.
                self.flush_failures += 1
                self._flush_failed(exc)
                if self._stopping and backoff >= 2:
                    return  # leave the rest to the next start; the WAL has it
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if self._store_error is not None:
                log.info("entry store reachable again")
            if self._flusher_error is not None:
                log.info("store flusher making progress again")
            self._store_error = None
            self._flusher_error = None
            backoff = 0.1
            for _ in batch:
                record, _ = self._queue.popleft()
                self._queued_rows -= record.rows
                self._unflushed_bytes -= record.length
                self.flushed_rows += record.rows

    def _flush_failed(self, exc: Exception) -> None:
        """Record a failed flush; logged once per episode, not once per retry."""
        if isinstance(exc, StoreUnavailable):
            if self._store_error is None:
                log.error("entry store unavailable, keeping rows in the WAL: %s", exc)
            self._store_error = str(exc)
            return
        if self._flusher_error is None:
            log.error("store flusher failed, keeping rows in the WAL and retrying", exc_info=exc)
            self._flusher_error_since = int(time.time() * 1000)
        self._flusher_error = f"{type(exc).__name__}: {exc}"

    def _publish(self, project_id: str, rows: list[dict[str, Any]]) -> None:
        for listener in self.listeners:
            try:
                listener(project_id, rows)
            except Exception:  # a listener never fails ingestion
                log.exception("ingest listener failed")

    def _writer_done(self) -> bool:
        return bool(self._tasks) and self._tasks[0].done()

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._flush_wake.wait(), max(seconds, 0.001))
        except TimeoutError:
            pass

    def _take_batch(self) -> list[Record]:
        forced = self._forced
        batch: list[Record] = []
        rows = 0
        for record, _ in self._queue:
            if forced is not None:
                if record.seq > forced.pending_last:
                    break
            elif batch and (rows + record.rows > self.batch_rows or record.fmt != batch[0].fmt):
                break  # one insert, one format: replayed JSON lines go apart from Native
            batch.append(record)
            rows += record.rows
        return batch

    def _insert(self, batch: list[Record]) -> None:
        started = time.monotonic()
        queued = self._queue[0][1] if self._queue else started
        try:
            self._insert_batch(batch)
        except StoreUnavailable:
            self.store_errors += 1
            raise
        done = time.monotonic()
        for observe in self.observers:
            observe("insert", done - started)
            observe("flush_lag", done - queued)

    def _insert_batch(self, batch: list[Record]) -> None:
        first, last = batch[0].seq, batch[-1].seq
        forced = self._forced
        if forced is not None and forced.pending_first <= first and last <= forced.pending_last:
            token = forced.pending_token
        else:
            token = f"{self.node_id}:{first}-{last}"
            self._checkpoint = Checkpoint(
                flushed=self._checkpoint.flushed,
                pending_first=first,
                pending_last=last,
                pending_token=token,
            )
            self.wal.write_checkpoint(self._checkpoint)
        try:
            insert_wal = getattr(self.store, "insert_wal", None)
            if insert_wal is not None:  # the store's process reads the records itself
                insert_wal(batch, token, batch[0].fmt)
            else:
                self.store.insert_rows(
                    merged_blocks(batch, self.wal.read(batch)), token, batch[0].fmt
                )
        except BaseException:
            # The store may have taken the batch before failing to say so (a timeout, a
            # store process gone): the retry sends exactly this batch with this token.
            self._forced = self._checkpoint
            raise
        self._checkpoint = Checkpoint(flushed=last)
        self.wal.write_checkpoint(self._checkpoint)
        # Cleared only once the checkpoint is written: until then a retry must reuse
        # the token, so that the store deduplicates the batch it already took.
        self._forced = None
        try:
            self.wal.drop_flushed(last)
        except OSError as exc:  # the next flush deletes them; the checkpoint is written
            log.warning("cannot delete flushed WAL segments yet: %s", exc)

    def _final_checkpoint(self) -> None:
        self.wal.write_checkpoint(self._checkpoint)

    # -- introspection --------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Queue depth and store health, for /health and tests."""
        return {
            "queuedRows": self._queued_rows,
            "unflushedBytes": self._unflushed_bytes,
            "flushedRows": self.flushed_rows,
            "storeError": self._store_error,
            "flusherError": (
                None
                if self._flusher_error is None
                else {"error": self._flusher_error, "since": self._flusher_error_since}
            ),
            "flushFailures": self.flush_failures,
        }

    def replay_done(self) -> bool:
        """Whether every record the start-up replay found is in the store."""
        if not self._started:
            return False
        return not self._queue or self._queue[0][0].seq > self._replayed_upto

    def ready(self) -> bool:
        """Replay done and the store reachable: reads see every acknowledged entry."""
        return self.replay_done() and self._store_error is None

    async def wait_replayed(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until the start-up replay is stored."""
        deadline = time.monotonic() + timeout
        while not self.replay_done():
            if time.monotonic() >= deadline:
                return False
            self._flush_wake.set()
            await asyncio.sleep(0.02)
        return True

    def wal_segments(self) -> int:
        """How many WAL segment files exist."""
        return len(getattr(self.wal, "_segments", ()))

    async def wait_flushed(self, timeout: float = 10.0) -> None:
        """Wait until everything accepted so far is in the store (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while (self._queue or self._pending) and time.monotonic() < deadline:
            self._flush_wake.set()
            await asyncio.sleep(0.01)
        if self._queue or self._pending:
            raise TimeoutError(f"{self._queued_rows} rows still unflushed after {timeout}s")
