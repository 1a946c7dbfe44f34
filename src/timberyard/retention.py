"""Retention: remove entries older than their project's retention, and deleted projects' data.

Age is counted from arrival (`received_at`), so importing old logs does not
delete them at once. Whole day partitions are dropped when every project with
entries in them has expired them; otherwise rows are deleted per project.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .storage.entries import EntryStore, StoreUnavailable
from .storage.meta import MetaStore

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


@dataclass
class Report:
    """What one retention pass removed."""

    dropped_partitions: list[str] = field(default_factory=list)
    deleted: dict[str, int] = field(default_factory=dict)  # project -> cutoff ms

    def to_json(self) -> dict[str, Any]:
        return {"droppedPartitions": self.dropped_partitions, "deletedBefore": self.deleted}


class Retention:
    """Runs retention passes over the entry store, in the background or on demand."""

    def __init__(
        self, store: EntryStore, meta: MetaStore, clock: Callable[[], float], every: float = 3600
    ) -> None:
        self.store = store
        self.meta = meta
        self.clock = clock
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def cutoffs(self) -> dict[str, int | None]:
        """Project -> arrival time (ms) before which its entries expire; None: remove all."""
        now_ms = int(self.clock() * 1000)
        out: dict[str, int | None] = {}
        for project in self.meta.list_projects(include_deleted=True):
            if project.get("deleted_at") is not None:
                out[project["id"]] = None
            else:
                out[project["id"]] = now_ms - int(project["retention_days"]) * DAY_MS
        return out

    def run_once(self) -> Report:
        """One pass: drop whole expired partitions, then delete expired rows per project."""
        report = Report()
        cutoffs = self.cutoffs()
        rows = self.store.partitions()
        partitions: dict[str, list[tuple[str, int]]] = {}
        for partition, project, newest in rows:
            partitions.setdefault(str(partition), []).append((str(project), int(newest)))

        def expired(project: str, newest: int) -> bool:
            if project not in cutoffs:
                return False  # a project this node does not know: leave it alone
            cutoff = cutoffs[project]
            return cutoff is None or newest < cutoff

        partly: set[str] = set()
        for partition, members in sorted(partitions.items()):
            if all(expired(p, newest) for p, newest in members):
                self.store.drop_partition(partition)
                report.dropped_partitions.append(partition)
            else:
                partly.update(p for p, _ in members if p in cutoffs)
        for project in sorted(partly):
            cutoff = cutoffs[project]
            if cutoff is None:
                self.store.delete_project(project)
                report.deleted[project] = -1
                continue
            if self.store.delete_received_before(project, cutoff):
                report.deleted[project] = cutoff
        if report.dropped_partitions or report.deleted:
            log.info(
                "retention: dropped %d partitions, deleted rows of %d projects",
                len(report.dropped_partitions),
                len(report.deleted),
            )
        return report

    def remove_project(self, project_id: str) -> None:
        """Delete every entry of a project (when the project is deleted)."""
        self.store.delete_project(project_id)

    async def start(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every)
                try:
                    await asyncio.to_thread(self.run_once)
                except StoreUnavailable as exc:
                    log.warning("retention pass skipped: %s", exc)
                except Exception:
                    log.exception("retention pass failed")

        self._task = asyncio.create_task(loop(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
