"""The write-ahead log and the pipeline: group commit, torn tails, idempotent replay."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from timberyard.ingest.pipeline import Pipeline, merged_blocks
from timberyard.ingest.wal import Checkpoint, WriteAheadLog
from timberyard.storage.entries import EntryStore


@pytest.fixture
def store(chdb_path: Path) -> Any:
    s = EntryStore(f"chdb://{chdb_path}", f"w_{uuid.uuid4().hex[:10]}")
    s.open()
    yield s
    s.drop_database()


def rows(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"message": f"{prefix}-{i}", "level": "info", "severity": 2, "ts_ns": 1705312200 * 10**9} for i in range(n)]


def count(store: EntryStore, like: str = "%") -> int:
    return int(store.query(f"SELECT count() FROM {store.table} WHERE message LIKE {{l:String}}", {"l": like})[0][0])


def test_records_survive_reopen_and_torn_tail_is_dropped(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.open()
    written = wal.write([b'{"a":1}\n', b'{"a":2}\n{"a":3}\n'])
    assert [(r.seq, r.rows) for r in written] == [(1, 1), (2, 2)]
    # Records point into their segment; the payloads read back as written.
    assert list(wal.read(written)) == [b'{"a":1}\n', b'{"a":2}\n{"a":3}\n']
    wal.close()
    segment = next(tmp_path.glob("seg-*.wal"))
    with segment.open("ab") as handle:
        handle.write(b"\x10\x00\x00\x00garbage")  # a torn record: never acknowledged
    size_with_tear = segment.stat().st_size
    wal2 = WriteAheadLog(tmp_path)
    checkpoint, records = wal2.open()
    assert checkpoint == Checkpoint()
    assert [(r.seq, r.rows) for r in records] == [(1, 1), (2, 2)]
    assert segment.stat().st_size < size_with_tear
    assert [r.seq for r in wal2.write([b'{"a":4}\n'])] == [3]
    wal2.close()
    wal3 = WriteAheadLog(tmp_path)
    _, records = wal3.open()
    assert [r.seq for r in records] == [1, 2, 3]
    assert b"".join(wal3.read(records)) == b'{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n'


def test_corrupt_record_in_the_middle_stops_the_scan(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.open()
    wal.write([b'{"a":1}\n', b'{"a":2}\n'])
    wal.close()
    segment = next(tmp_path.glob("seg-*.wal"))
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # flip a byte of the last payload: its checksum fails
    segment.write_bytes(bytes(data))
    _, records = WriteAheadLog(tmp_path).open()
    assert [r.seq for r in records] == [1]


def test_flushed_segments_are_deleted(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=64)
    wal.open()
    written = []
    for i in range(5):
        written += wal.write([b'{"message":"%d"}\n' % i * 4])
    assert len(list(tmp_path.glob("seg-*.wal"))) >= 4
    assert len({r.path for r in written}) >= 4  # read back across segments
    assert list(wal.read(written)) == [b'{"message":"%d"}\n' % i * 4 for i in range(5)]
    wal.write_checkpoint(Checkpoint(flushed=5))
    wal.drop_flushed(5)
    assert len(list(tmp_path.glob("seg-*.wal"))) == 1


async def test_group_commit_shares_fsyncs(tmp_path: Path, store: EntryStore, monkeypatch: Any) -> None:
    pipeline = Pipeline(store, tmp_path / "wal", batch_seconds=0.05)
    await pipeline.start()
    calls = 0
    original = pipeline.wal.write

    def counting(payloads: list[bytes], *rest: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(payloads, *rest)

    monkeypatch.setattr(pipeline.wal, "write", counting)
    await asyncio.gather(*(pipeline.submit("p", rows(f"g{i}", 3)) for i in range(200)))
    await pipeline.wait_flushed()
    await pipeline.stop()
    assert count(store, "g%") == 600
    assert calls < 200 / 4, f"{calls} fsync groups for 200 concurrent requests"


async def test_replay_after_crash_stores_each_row_once(tmp_path: Path, store: EntryStore) -> None:
    wal_dir = tmp_path / "wal"
    first = Pipeline(store, wal_dir, batch_seconds=60)  # nothing flushes on its own
    await first.start()
    await first.submit("p", rows("crash", 5))
    await first.submit("p", rows("crash2", 3))
    # The crash happens right after the batch reached the store but before the
    # checkpoint said so: insert by hand exactly what _insert would have.
    batch = list(r for r, _ in first._queue)
    token = f"{first.node_id}:{batch[0].seq}-{batch[-1].seq}"
    first.wal.write_checkpoint(Checkpoint(flushed=0, pending_first=batch[0].seq, pending_last=batch[-1].seq, pending_token=token))
    store.insert_rows(merged_blocks(batch, first.wal.read(batch)), token, batch[0].fmt)
    for task in first._tasks:
        task.cancel()
    first.wal.close()  # no clean stop: the process "died"
    assert count(store, "crash%") == 8

    second = Pipeline(store, wal_dir, batch_seconds=0.01)
    await second.start()
    await second.submit("p", rows("after", 2))
    await second.wait_flushed()
    await second.stop()
    assert count(store, "crash%") == 8, "the replayed batch was stored twice"
    assert count(store, "after%") == 2

    third = Pipeline(store, wal_dir, batch_seconds=0.01)
    await third.start()
    await third.wait_flushed()
    await third.stop()
    assert count(store) == 10


async def test_unreachable_store_keeps_accepting_then_503(tmp_path: Path) -> None:
    down = EntryStore("http://127.0.0.1:9/", "nowhere")  # port 9: nothing listens
    pipeline = Pipeline(down, tmp_path / "wal", batch_seconds=0.01, max_unflushed_bytes=4000)
    await pipeline.start()
    accepted = 0
    with pytest.raises(Exception) as info:
        for i in range(1000):
            await pipeline.submit("p", rows(f"d{i}", 5))
            accepted += 1
            await asyncio.sleep(0)
    error = info.value
    assert getattr(error, "status", None) == 503 and error.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
    assert 5 <= accepted < 1000
    for _ in range(200):
        if pipeline.stats()["storeError"]:
            break
        await asyncio.sleep(0.05)
    assert "127.0.0.1:9" in pipeline.stats()["storeError"]
    await pipeline.stop(timeout=3)
    _, records = WriteAheadLog(tmp_path / "wal").open()
    assert sum(r.rows for r in records) == accepted * 5


def test_schema_migrates_an_older_database(chdb_path: Path) -> None:
    from timberyard.storage import schema

    db = f"m_{uuid.uuid4().hex[:10]}"
    old = EntryStore(f"chdb://{chdb_path}", db)
    old._client = old._connect()
    old.command(f"CREATE DATABASE `{db}`")
    old.command(schema.BOOTSTRAP(db))
    old.command(schema.MIGRATIONS[0][0](db))
    old.command(f"INSERT INTO `{db}`.schema_version (version) VALUES (1)")
    old.insert_rows(b'{"project_id":"p","ts_ns":1705312200000000000,"id":1,"message":"kept","level":"info","severity":2}\n', "t1")
    store = EntryStore(f"chdb://{chdb_path}", db)
    store.open()
    versions = store.query(f"SELECT max(version) FROM `{db}`.schema_version")
    assert int(versions[0][0]) == schema.SCHEMA_VERSION >= 2
    assert store.query(f"SELECT message FROM `{db}`.logs") == [("kept",)]
    assert store.query(f"SELECT count() FROM system.projection_parts WHERE database = '{db}' AND active") != [(0,)]
    # Schema 3: errors in partitions of their own, the rows copied across.
    key = store.query(f"SELECT partition_key FROM system.tables WHERE database = '{db}' AND name = 'logs'")
    assert key == [("(toDate(timestamp), severity >= 5)",)]
    assert store.query(f"SELECT DISTINCT partition FROM system.parts WHERE database = '{db}' AND active"
                       " AND table = 'logs'") == [("('2024-01-15',0)",)]
    assert store.query(f"SHOW TABLES FROM `{db}`") == [("logs",), ("schema_version",)]
    create = store.query(f"SHOW CREATE TABLE `{db}`.logs")[0][0]
    assert "merge_selector_base = 10" in create and "`fields` String CODEC(LZ4)" in create
    assert "posting_list_codec = 'bitpacking'" in create
    store.drop_database()


def test_a_second_process_cannot_append_to_a_log_in_use(tmp_path: Path) -> None:
    first = WriteAheadLog(tmp_path)
    first.open()
    second = WriteAheadLog(tmp_path)
    with pytest.raises(RuntimeError, match="in use by another process"):
        second.open(wait=0.3)
    first.close()  # released: the next one may open it
    _, records = second.open(wait=0.3)
    assert records == []
    second.close()


class BlocksFirstInsert:
    """The store, except that the first insert waits until released (a slow, large insert)."""

    def __init__(self, store: EntryStore) -> None:
        import threading

        self.store = store
        self.release = threading.Event()
        self.calls = 0

    def insert_rows(self, data: Any, token: str, fmt: str = "JSONEachRow") -> None:
        self.calls += 1
        if self.calls == 1:
            assert self.release.wait(30)
        self.store.insert_rows(data, token, fmt)


async def test_a_batch_does_not_wait_for_the_insert_before_it(tmp_path: Path, store: EntryStore) -> None:
    slow = BlocksFirstInsert(store)
    pipeline = Pipeline(slow, tmp_path / "wal", batch_seconds=0.02)  # type: ignore[arg-type]
    await pipeline.start()
    try:
        await pipeline.submit("p", rows("first", 5))
        while slow.calls < 1:
            await asyncio.sleep(0.01)
        await pipeline.submit("p", rows("second", 3))
        for _ in range(300):  # stored while the first insert still runs
            if count(store, "second%") == 3:
                break
            await asyncio.sleep(0.01)
        assert count(store, "second%") == 3 and count(store, "first%") == 0
        # The checkpoint cannot pass the first batch, and names both batches in flight.
        checkpoint = pipeline.wal.read_checkpoint()
        assert checkpoint.flushed == 0 and [b[0] for b in checkpoint.pending()] == [1, 2]
        # The process dies now: the next one retries both batches with their tokens.
        for task in [*pipeline._tasks, *pipeline._inserts]:
            task.cancel()
        pipeline.wal.close()
        slow.release.set()  # the first insert completes in the dying process after all
        await asyncio.sleep(0.2)
        again = Pipeline(store, tmp_path / "wal", batch_seconds=0.02)
        await again.start()
        await again.wait_flushed(10)
        await again.stop()
        assert count(store, "first%") == 5 and count(store, "second%") == 3  # none twice
        assert again.wal.read_checkpoint().pending() == []
    finally:
        slow.release.set()
