"""The ingestion pipeline: canonical rows -> WAL (group commit) -> batches -> entry store."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
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


class _Batch:
    """Records inserted together under one deduplication token."""

    __slots__ = ("records", "rows", "token", "first", "last", "queued", "announced", "stored")

    def __init__(
        self,
        records: list[Record],
        rows: int,
        token: str,
        queued: float,
        announced: bool = False,
    ) -> None:
        self.records = records
        self.rows = rows
        self.token = token
        self.first = records[0].seq
        self.last = records[-1].seq
        self.queued = queued  # when its oldest record was queued (monotonic)
        self.announced = announced  # in the checkpoint's pending batches
        self.stored = False


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
        max_inflight: int = 2,
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
        # Batches in flight when the last run stopped, (first, last, token): retried
        # exactly, with their tokens, so that a batch the store did take is not stored twice.
        self._forced: deque[tuple[int, int, str]] = deque()
        self._checkpoint = Checkpoint()
        # Inserts run at once (at most max_inflight): a batch does not wait for the
        # insert before it to finish. Oldest first; each a contiguous run of records.
        self.max_inflight = max_inflight
        self._inflight: list[_Batch] = []
        self._inflight_rows = 0
        self._inflight_records = 0
        self._checkpoint_lock = threading.Lock()
        self._gave_up = False
        self._inserts: set[asyncio.Task[None]] = set()
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
        pending = checkpoint.pending()
        if pending and records and records[0].seq == pending[0][0]:
            self._forced = deque(b for b in pending if b[1] > checkpoint.flushed)
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
            for task in [*self._tasks, *self._inserts]:
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
        while True:
            untaken_rows = self._queued_rows - self._inflight_rows
            untaken = len(self._queue) - self._inflight_records
            if self._gave_up:  # stopping with the store down: the WAL keeps the rest
                await asyncio.gather(*self._inserts, return_exceptions=True)
                return
            if untaken == 0:
                if (
                    not self._inflight
                    and self._stopping
                    and not self._pending
                    and self._writer_done()
                ):
                    try:
                        await asyncio.to_thread(self._final_checkpoint)
                    except Exception as exc:  # the WAL replays from the last good one
                        log.error("final WAL checkpoint failed: %s", exc)
                    return
                self._flush_wake.clear()
                await self._wait(self.batch_seconds)
                continue
            if len(self._inflight) >= self.max_inflight:
                self._flush_wake.clear()
                await self._wait(self.batch_seconds)  # woken when an insert ends
                continue
            oldest = self._queue[self._inflight_records][1]
            due = oldest + self.batch_seconds - time.monotonic()
            if (
                untaken_rows < self.batch_rows
                and due > 0
                and not self._stopping
                and not self._forced
            ):
                self._flush_wake.clear()
                await self._wait(due)
                continue
            batch = self._take_batch()
            with self._checkpoint_lock:
                self._inflight.append(batch)
            self._inflight_rows += batch.rows
            self._inflight_records += len(batch.records)
            task = asyncio.create_task(self._run(batch), name=f"store-insert-{batch.first}")
            self._inserts.add(task)
            task.add_done_callback(self._inserts.discard)

    async def _run(self, batch: _Batch) -> None:
        """Insert one batch until it is stored (the same batch, the same token each time)."""
        backoff = 0.1
        while True:
            try:
                await asyncio.to_thread(self._insert, batch)
                break
            except Exception as exc:
                # Whatever fails (store, checkpoint, a descriptor limit), the rows stay in
                # the WAL and the insert is retried: the flusher must never end.
                self.flush_failures += 1
                self._flush_failed(exc)
                if self._stopping and backoff >= 2:
                    self._gave_up = True  # leave the rest to the next start; the WAL has it
                    self._flush_wake.set()
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        if self._store_error is not None:
            log.info("entry store reachable again")
        if self._flusher_error is not None:
            log.info("store flusher making progress again")
        self._store_error = None
        self._flusher_error = None
        # The thread moved the checkpoint past every stored batch at the front.
        flushed = self._checkpoint.flushed
        queue = self._queue
        while queue and queue[0][0].seq <= flushed:
            record, _ = queue.popleft()
            self._queued_rows -= record.rows
            self._unflushed_bytes -= record.length
            self.flushed_rows += record.rows
            self._inflight_records -= 1
            self._inflight_rows -= record.rows
        with self._checkpoint_lock:
            self._inflight = [b for b in self._inflight if b.last > flushed]
        self._flush_wake.set()

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

    def _take_batch(self) -> _Batch:
        """The next records after those in flight: a forced batch exactly, else up to
        batch_rows rows of one format (replayed JSON lines go apart from Native)."""
        forced = self._forced[0] if self._forced else None
        records: list[Record] = []
        rows = 0
        queued = 0.0
        for record, added in itertools.islice(self._queue, self._inflight_records, None):
            if forced is not None:
                if record.seq > forced[1]:
                    break
            elif records and (
                rows + record.rows > self.batch_rows or record.fmt != records[0].fmt
            ):
                break
            if not records:
                queued = added
            records.append(record)
            rows += record.rows
        first, last = records[0].seq, records[-1].seq
        if forced is not None:
            self._forced.popleft()
            return _Batch(records, rows, forced[2], queued, announced=True)
        return _Batch(records, rows, f"{self.node_id}:{first}-{last}", queued)

    def _insert(self, batch: _Batch) -> None:
        started = time.monotonic()
        try:
            self._insert_batch(batch)
        except StoreUnavailable:
            self.store_errors += 1
            raise
        done = time.monotonic()
        for observe in self.observers:
            observe("insert", done - started)
            observe("flush_lag", done - batch.queued)

    def _write_checkpoint(self, flushed: int) -> None:
        """Checkpoint `flushed` and every batch in flight after it (under the lock)."""
        pending = [(b.first, b.last, b.token) for b in self._inflight if b.last > flushed]
        checkpoint = Checkpoint.of(flushed, pending)
        self.wal.write_checkpoint(checkpoint)
        self._checkpoint = checkpoint

    def _insert_batch(self, batch: _Batch) -> None:
        if not batch.announced:
            # In the checkpoint before the store may have it: a restart retries it
            # with this token, and the store deduplicates what it already took.
            with self._checkpoint_lock:
                self._write_checkpoint(self._checkpoint.flushed)
            batch.announced = True
        records, fmt = batch.records, batch.records[0].fmt
        insert_wal = getattr(self.store, "insert_wal", None)
        if insert_wal is not None:  # the store's process reads the records itself
            insert_wal(records, batch.token, fmt)
        else:
            self.store.insert_rows(merged_blocks(records, self.wal.read(records)), batch.token, fmt)
        with self._checkpoint_lock:
            batch.stored = True
            flushed = self._checkpoint.flushed
            for other in self._inflight:  # oldest first: the stored ones at the front
                if not other.stored:
                    break
                flushed = max(flushed, other.last)
            if flushed > self._checkpoint.flushed:
                self._write_checkpoint(flushed)
            else:
                return
        try:
            self.wal.drop_flushed(flushed)
        except OSError as exc:  # the next flush deletes them; the checkpoint is written
            log.warning("cannot delete flushed WAL segments yet: %s", exc)

    def _final_checkpoint(self) -> None:
        with self._checkpoint_lock:
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
