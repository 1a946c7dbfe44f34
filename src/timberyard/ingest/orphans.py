"""Write-ahead logs that no process of this configuration appends to any more.

`serve` keeps its log in `<data>/wal`, each worker of `serve --workers N` in
`<data>/wal/worker-<i>`. After a change of configuration (a crash with four
workers, then a restart with two, or with none), the logs that nobody opens
would keep their acknowledged rows forever. They are replayed into the store at
start-up, before the server accepts anything, and then removed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..storage.entries import EntryStore
from .pipeline import Pipeline

log = logging.getLogger(__name__)


def worker_logs(wal_root: Path) -> list[Path]:
    """The worker log folders under the root log folder, by worker index."""
    found = [p for p in wal_root.glob("worker-*") if p.is_dir() and p.name[7:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[7:]))


def has_records(folder: Path) -> bool:
    return any(folder.glob("seg-*.wal"))


async def drain(store: EntryStore, folders: Iterable[Path], timeout: float = 300.0) -> int:
    """Store what each folder's log holds (exactly once, by its tokens); returns the rows."""
    total = 0
    for folder in folders:
        if not has_records(folder):
            continue
        pipeline = Pipeline(store, folder, batch_seconds=0.0)
        await pipeline.start()
        queued = pipeline.stats()["queuedRows"]
        if not await pipeline.wait_replayed(timeout):
            await pipeline.stop()
            raise RuntimeError(
                f"cannot replay the write-ahead log in {folder} into the store; it is kept"
            )
        await pipeline.stop()
        total += queued
        if queued:
            log.info("replayed %d rows from the write-ahead log in %s", queued, folder)
        if folder.name.startswith("worker-"):
            shutil.rmtree(folder, ignore_errors=True)
    return total
