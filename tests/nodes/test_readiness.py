"""Readiness: a pipeline is ready once the records its start-up replay found are in the store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from timberyard.ingest.pipeline import Pipeline
from timberyard.storage.entries import EntryStore


@pytest.fixture
def store(chdb_path: Path) -> Iterator[EntryStore]:
    s = EntryStore(f"chdb://{chdb_path}", f"r_{uuid.uuid4().hex[:10]}")
    s.open()
    yield s
    s.drop_database()


def rows(n: int) -> list[dict[str, Any]]:
    return [{"message": f"r-{i}", "level": "info", "severity": 2, "ts_ns": 1705312200 * 10**9} for i in range(n)]


async def crash_with_unflushed_rows(store: EntryStore, wal_dir: Path) -> None:
    first = Pipeline(store, wal_dir, batch_seconds=600)  # nothing flushes on its own
    await first.start()
    assert first.ready()  # nothing to replay
    await first.submit("p", rows(5))
    for task in first._tasks:
        task.cancel()
    first.wal.close()  # the process "died"


async def test_not_ready_until_the_replay_is_stored(tmp_path: Path, store: EntryStore) -> None:
    wal_dir = tmp_path / "wal"
    await crash_with_unflushed_rows(store, wal_dir)

    down = Pipeline(EntryStore("http://127.0.0.1:9/", "nowhere"), wal_dir, batch_seconds=600)
    assert not down.replay_done()  # not started yet
    await down.start()
    assert not await down.wait_replayed(0.3)  # the store is unreachable: the replay waits
    assert not down.ready()
    await down.stop(timeout=1)

    # Replayed records are due at once, even with a long batch wait.
    up = Pipeline(store, wal_dir, batch_seconds=600)
    await up.start()
    assert await up.wait_replayed(10)
    assert up.ready() and up.flushed_rows == 5
    await up.submit("p", rows(2))  # new rows, not flushed yet, do not make it unready
    assert up.ready()
    await asyncio.wait_for(up.stop(), 30)
