"""The SQL alert stores behave as the in-memory ones, atomically, with or without RETURNING."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from timberyard.alerts import (
    Delivery,
    EntrySnapshot,
    GroupKey,
    MemoryGroupStore,
    validate_channel,
)
from timberyard.alerts.records import Occurrences
from timberyard.storage.alerts_store import SqlChannels, SqlDeliveryLog, SqlGroupStore
from timberyard.storage.meta import MetaStore

KEY = GroupKey("org_1", "prj_1", "f00dfeedf00dfeed")
OTHER = GroupKey("org_1", "prj_2", "f00dfeedf00dfeed")


def snapshot(n: int) -> EntrySnapshot:
    return EntrySnapshot(f"{n:016x}", "prj_1", "error", f"boom {n}", "api", "prod", "E", n)


@pytest.fixture
def meta(meta_url: str) -> Iterator[MetaStore]:
    """A fresh metadata store: SQLite, then PostgreSQL (daemons.meta_url)."""
    store = MetaStore(meta_url)
    store.create()
    yield store
    store.close()


@pytest.fixture(params=[True, False], ids=["returning", "guarded"])
def groups(request: pytest.FixtureRequest, meta: MetaStore) -> SqlGroupStore:
    """Both claim strategies: UPDATE ... RETURNING, and SELECT then a guarded UPDATE."""
    return SqlGroupStore(meta.engine, returning=request.param)


def test_returning_is_detected(meta: MetaStore) -> None:
    import sqlite3

    expected = meta.url.startswith("postgresql") or sqlite3.sqlite_version_info >= (3, 35)
    assert SqlGroupStore(meta.engine).returning is expected


# (operation, group, channel, count, now, interval) -> result of fold, or counts claimed by
# take_due as {(group, channel): count}.
SCRIPT: list[tuple[Any, ...]] = [
    ("fold", KEY, "a", 5, 1000.0, 600.0, 5),  # never notified: claimed at once
    ("fold", KEY, "b", 2, 1000.0, 60.0, 2),  # another channel keeps its own state
    ("fold", KEY, "a", 3, 1100.0, 600.0, 0),  # inside the interval: folded
    ("fold", OTHER, "a", 1, 1100.0, 600.0, 1),  # another group
    ("fold", KEY, "b", 4, 1030.0, 60.0, 0),
    ("take_due", 1059.0, {}),
    ("take_due", 1060.0, {(KEY, "b"): 4}),
    ("take_due", 1060.0, {}),  # claimed once only
    ("fold", KEY, "a", 2, 1500.0, 600.0, 0),
    ("fold", KEY, "a", 1, 1600.0, 600.0, 6),  # interval over: everything folded, plus this
    ("fold", KEY, "a", 7, 1601.0, 600.0, 0),
    ("fold", KEY, "b", 1, 1061.0, 60.0, 0),
    ("fold", KEY, "a", 1, 1620.0, 30.0, 0),  # a shorter interval now applies to the pending
    ("take_due", 1629.0, {(KEY, "b"): 1}),
    ("take_due", 1630.0, {(KEY, "a"): 8}),
    ("take_due", 9000.0, {}),
]


async def test_fold_and_take_due_follow_the_memory_store(groups: SqlGroupStore) -> None:
    memory = MemoryGroupStore()
    for n, (op, *args) in enumerate(SCRIPT):
        if op == "fold":
            key, channel, count, now, interval, expected = args
            got = [
                await store.fold(key, channel, count, snapshot(n), now, interval)
                for store in (memory, groups)
            ]
            assert got == [expected, expected], (n, got)
        else:
            now, expected = args
            for store in (memory, groups):
                due = await store.take_due(now)
                assert {(d.key, d.channel_id): d.count for d in due} == expected, (n, store)
                for d in due:
                    assert d.entry.message.startswith("boom ")


async def test_take_due_carries_the_latest_entry_and_respects_the_limit(
    groups: SqlGroupStore,
) -> None:
    for i in range(5):
        key = GroupKey("org_1", "prj_1", f"{i:016x}")
        await groups.fold(key, "a", 1, snapshot(0), 0.0, 10.0)
        await groups.fold(key, "a", 2, snapshot(100 + i), 1.0, 10.0)
    first = await groups.take_due(20.0, limit=3)
    rest = await groups.take_due(20.0, limit=3)
    assert (len(first), len(rest)) == (3, 2)
    assert {d.entry for d in first + rest} == {snapshot(100 + i) for i in range(5)}
    assert all(d.count == 2 for d in first + rest)


def test_concurrent_folds_notify_once_and_lose_nothing(groups: SqlGroupStore) -> None:
    threads, per_thread = 8, 40
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            n = groups.fold_sync(KEY, "a", 1, snapshot(1), 1000.0, 600.0)
            with lock:
                claimed.append(n)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [n for n in claimed if n] == [1]  # exactly one caller notifies
    [due] = groups.take_due_sync(2000.0)
    assert due.count == threads * per_thread - 1


def test_concurrent_take_due_claims_each_notice_once(groups: SqlGroupStore) -> None:
    for i in range(30):
        key = GroupKey("org_1", "prj_1", f"{i:016x}")
        groups.fold_sync(key, "a", 1, snapshot(i), 0.0, 10.0)
        groups.fold_sync(key, "a", 3, snapshot(i), 1.0, 10.0)
    taken: list[Any] = []
    lock = threading.Lock()

    def work() -> None:
        while found := groups.take_due_sync(50.0, limit=4):
            with lock:
                taken.extend(found)

    workers = [threading.Thread(target=work) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(taken) == 30 and len({d.key for d in taken}) == 30
    assert {d.count for d in taken} == {3}


def occurrences(count: int, first: int, last: int, level: str = "error", n: int = 0) -> Occurrences:
    return Occurrences(
        KEY, "boom <num>", "api", "E", level, count, first, last, f"first{n}", f"last{n}"
    )


async def test_record_adds_occurrences_like_the_memory_store(groups: SqlGroupStore) -> None:
    memory = MemoryGroupStore()
    batches = [
        occurrences(3, 100, 200, n=1),
        occurrences(2, 50, 150, level="fatal", n=2),  # earlier first, not the latest
        occurrences(4, 300, 400, level="warn", n=3),  # the latest; level stays fatal
        occurrences(1, 400, 400, n=4),  # ties the latest: it becomes the last entry
    ]
    for batch in batches:
        assert await groups.record(batch) == await memory.record(batch)
    group = await groups.get(KEY)
    assert group is not None
    assert (group.count, group.first_seen, group.last_seen) == (10, 50, 400)
    assert (group.level, group.sample_entry_id, group.last_entry_id) == ("fatal", "first1", "last4")
    assert await groups.get(OTHER) is None
    assert [g.key for g in await groups.groups("org_1")] == [KEY]
    assert await groups.groups("org_1", "prj_2") == [] and await groups.groups("org_2") == []


def test_concurrent_records_count_everything(groups: SqlGroupStore) -> None:
    def work() -> None:
        for _ in range(25):
            groups.record_sync(occurrences(2, 10, 20))

    workers = [threading.Thread(target=work) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    group = groups.get_sync(KEY)
    assert group is not None and group.count == 300


async def test_delivery_log_keeps_the_latest_per_channel(meta: MetaStore) -> None:
    log = SqlDeliveryLog(meta.engine, keep=5)
    for i in range(12):
        await log.record("a", Delivery(f"d{i}", "a", 1, "delivered", float(i), 200))
    await log.record("b", Delivery("x", "b", 2, "retry", 1.0, 503, "receiver is down", 12.5, "ff"))
    assert [d.delivery_id for d in await log.recent("a")] == ["d11", "d10", "d9", "d8", "d7"]
    assert [d.delivery_id for d in await log.recent("a", limit=2)] == ["d11", "d10"]
    assert await log.recent("b") == [
        Delivery("x", "b", 2, "retry", 1.0, 503, "receiver is down", 12.5, "ff")
    ]
    assert await log.recent("c") == []


async def test_channels_round_trip(meta: MetaStore) -> None:
    org = meta.create_organisation("acme")
    channels = SqlChannels(meta.engine)
    hook = validate_channel(
        {"type": "webhook", "url": "https://x.test/h", "secret": "s", "minLevel": "warn"}
    )
    mail = validate_channel({"type": "email", "to": ["a@x.test", "b@x.test"], "groupInterval": 5})
    first = channels.create_channel(org["id"], hook)
    second = channels.create_channel(org["id"], mail)
    assert await channels.channels(org["id"]) == [first, second]
    assert channels.get_channel(first.id) == first and first.config.secret == "s"
    assert second.config.to == ("a@x.test", "b@x.test") and second.config.group_interval == 300
    assert await channels.channels("org_other") == []
    assert channels.delete_channel(first.id) is True
    assert channels.delete_channel(first.id) is False
    assert channels.list_channels(org["id"]) == [second]
    assert channels.get_channel(first.id) is None


def test_async_methods_run_off_the_event_loop(groups: SqlGroupStore) -> None:
    """The async methods wrap sync work in a thread: usable from a running loop."""

    async def main() -> int:
        return await groups.fold(KEY, "a", 1, snapshot(1), 0.0, 1.0)

    assert asyncio.run(main()) == 1


def test_a_storm_through_two_nodes_notifies_once(meta: MetaStore) -> None:
    """Two nodes (two engines on one database) folding one group: one notification per interval."""
    other = MetaStore(meta.url)
    nodes = [SqlGroupStore(meta.engine), SqlGroupStore(other.engine)]
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def work(store: SqlGroupStore) -> None:
        start.wait()
        for _ in range(30):
            n = store.fold_sync(KEY, "a", 1, snapshot(1), 1000.0, 600.0)
            with lock:
                claimed.append(n)

    workers = [threading.Thread(target=work, args=(nodes[i % 2],)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [n for n in claimed if n] == [1]
    [due] = nodes[1].take_due_sync(2000.0)
    assert due.count == 119 and nodes[0].take_due_sync(2000.0) == []
    other.close()
