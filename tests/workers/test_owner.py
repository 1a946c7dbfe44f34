"""The owner process's services over its real Unix socket, in one test process:
counters exact across workers, the store's calls and errors, the tail hub, retries."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from timberyard.clock import Clock
from timberyard.errors import TimberyardError
from timberyard.ingest.pipeline import Pipeline
from timberyard.limits import Limiter, month_of
from timberyard.storage.entries import EntryStore, StoreRejected, StoreUnavailable
from timberyard.storage.meta import MetaStore
from timberyard.tail import Broker
from timberyard.workers.client import HubCounters, HubRelay, RemoteStore
from timberyard.workers.owner import Owner

NOW = 1_795_000_000.0


class Running:
    """An Owner served from a thread with its own event loop (the workers' side blocks)."""

    def __init__(self, store: EntryStore, path: Path, linger: float = 60.0) -> None:
        self.owner = Owner(store, linger=linger)
        self.path = path
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.owner.start(self.path), self.loop).result(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.owner.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    # A short path: Unix socket paths have a limit of about 100 bytes.
    return Path(f"/tmp/ty-{uuid.uuid4().hex[:8]}.sock")


@pytest.fixture
def store(chdb_path: Path) -> Iterator[EntryStore]:
    s = EntryStore(f"chdb://{chdb_path}", f"o_{uuid.uuid4().hex[:10]}")
    s.open()
    yield s
    s.drop_database()


@pytest.fixture
def meta(tmp_path: Path) -> Iterator[MetaStore]:
    m = MetaStore(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
    m.create()
    yield m
    m.close()


@contextlib.contextmanager
def limiters(meta: MetaStore, sock: Path, n: int) -> Iterator[list[Limiter]]:
    counters = [HubCounters(sock) for _ in range(n)]
    try:
        yield [Limiter(meta, Clock(fixed=NOW), shared=c) for c in counters]
    finally:
        for c in counters:
            c.close()


def passes(limiter: Limiter, org: str) -> bool:
    try:
        limiter.check_rate(org, "key_1")
        return True
    except TimberyardError as exc:
        assert exc.status == 429
        return False


def test_rate_limit_is_shared_by_the_workers(store: EntryStore, meta: MetaStore, sock: Path) -> None:
    org = meta.create_organisation("o", "free")["id"]  # 60 requests a minute
    with Running(store, sock), limiters(meta, sock, 2) as (a, b):
        results = [passes(n, org) for _ in range(50) for n in (a, b)]
    assert 60 <= results.count(True) <= 61
    assert a.refused["rate"] + b.refused["rate"] == results.count(False)


def test_hard_quota_is_exact_across_workers_awaiting_and_blocking(
    store: EntryStore, meta: MetaStore, sock: Path
) -> None:
    org = meta.create_organisation("o", "free")["id"]
    meta.update_organisation(org, monthly_quota=500)
    refused: list[int] = []

    def blocking(limiter: Limiter) -> None:
        for _ in range(25):
            try:
                limiter.reserve(org, 10)
            except TimberyardError as exc:
                assert exc.status == 402
                refused.append(1)

    async def awaiting(limiter: Limiter) -> None:
        async def one() -> None:
            try:
                await limiter.reserve_async(org, 10)
            except TimberyardError as exc:
                assert exc.status == 402
                refused.append(1)

        await asyncio.gather(*(one() for _ in range(25)))

    with Running(store, sock), limiters(meta, sock, 4) as nodes:
        threads = [threading.Thread(target=blocking, args=(n,)) for n in nodes[:2]]
        threads += [threading.Thread(target=asyncio.run, args=(awaiting(n),)) for n in nodes[2:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(refused) == 50
        assert all(n.usage(org)["used"] == 500 for n in nodes)
        for n in nodes:
            n.save()
    assert meta.get_usage(org, month_of(NOW)) == (500, 0)


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ([("a", "reserve", 6), ("b", "reserve", 6)], (12, 2)),
        ([("a", "reserve", 12), ("b", "release", 12)], (0, 0)),
        ([("a", "reserve", 8), ("b", "reserve", 4), ("a", "release", 4)], (8, 0)),
    ],
)
def test_overage_and_release_as_with_redis(
    store: EntryStore, meta: MetaStore, sock: Path, operations: list[Any], expected: tuple[int, int]
) -> None:
    org = meta.create_organisation("o", "pro")["id"]
    meta.update_organisation(org, monthly_quota=10)
    with Running(store, sock), limiters(meta, sock, 2) as (a, b):
        nodes = {"a": a, "b": b}
        for name, op, count in operations:
            getattr(nodes[name], op)(org, count)
        doc = b.usage(org)
    assert (doc["used"], doc["overage"]) == expected


def test_a_new_owner_seeds_its_counter_from_the_metadata_store(
    store: EntryStore, meta: MetaStore, sock: Path
) -> None:
    org = meta.create_organisation("o", "free")["id"]
    meta.add_usage(org, month_of(NOW), 9_995, 0)
    with Running(store, sock), limiters(meta, sock, 1) as (a,):
        asyncio.run(a.reserve_async(org, 5))
        with pytest.raises(TimberyardError):
            asyncio.run(a.reserve_async(org, 1))
        a.save()
    with Running(store, sock), limiters(meta, sock, 1) as (b,):  # the owner restarted empty
        with pytest.raises(TimberyardError):
            b.reserve(org, 1)
        assert b.usage(org)["used"] == 10_000


def test_remote_store_answers_as_the_store_does(store: EntryStore, sock: Path) -> None:
    rows = [{"message": f"r{i}", "level": "info", "severity": 2, "ts_ns": 1705312200 * 10**9 + i,
             "id": i + 1, "project_id": "p", "received_ms": 1705312200000} for i in range(3)]
    import msgspec

    store.insert_rows(msgspec.json.Encoder().encode_lines(rows), "t1")
    sql = f"SELECT id, message, timestamp, tags, (1, 'a') FROM {store.table} ORDER BY id"
    with Running(store, sock):
        remote = RemoteStore(sock, store.database)
        remote.open()
        got = remote.query(sql)
        assert [tuple(r) for r in got] == [tuple(r) for r in store.query(sql)]
        assert isinstance(got[0][2], dt.datetime) and got[0][4] == (1, "a")
        assert remote.stats()["rows"] == 3
        with pytest.raises(StoreRejected):
            remote.query("SELECT toUInt8({v:String})", {"v": "abc"})
        remote.close()
    with pytest.raises(StoreUnavailable, match="store process is unreachable"):
        RemoteStore(sock, store.database).query("SELECT 1")


def ms(millisecond: int, low: int) -> int:
    return (millisecond << 20) + low


async def test_rows_are_relayed_only_for_tailed_projects_and_reach_tails_in_order(
    store: EntryStore, sock: Path
) -> None:
    owner = Owner(store)
    await owner.start(sock)
    brokers = [Broker(), Broker()]
    seen: list[list[int]] = [[], []]

    def publisher(i: int) -> Any:
        def publish(project: str, rows: list[dict[str, Any]]) -> None:
            seen[i].extend(r["id"] for r in rows)
            brokers[i].publish(project, rows)

        return publish

    relays = [HubRelay(sock, i, publisher(i), lambda: None, brokers[i], hold_seconds=0.05) for i in (0, 1)]
    try:
        for relay in relays:
            await relay.start()
        import time

        now_ms = int(time.time() * 1000)
        relays[1].rows("p", [{"id": ms(now_ms, 1 << 17), "message": "before"}])
        await asyncio.sleep(0.2)
        assert relays[1].stats["published"] == 0  # nobody tails p: nothing crosses
        assert seen[0] == [] and seen[1] == [ms(now_ms, 1 << 17)]
        brokers[0].publish("p", [{"id": ms(now_ms - 5, 0), "message": "mine"}])
        await relays[0].want("p")  # returns once worker 1 relays p
        assert "p" in relays[1].wanted
        # worker 0's ring lacks worker 1's rows from before: a resume there reads the store
        covered, _ = brokers[0].recent("p", ms(now_ms - 5, 0))
        assert not covered
        later = int(time.time() * 1000)
        relays[1].rows("p", [{"id": ms(later, 1 << 17), "message": "b"}])
        relays[0].rows("p", [{"id": ms(later, 0), "message": "a"}, {"id": ms(later + 1, 0), "message": "c"}])
        for _ in range(100):
            if len(seen[0]) >= 3:
                break
            await asyncio.sleep(0.02)
        # worker 0's tails get both workers' rows, in one id order
        assert seen[0] == [ms(later, 0), ms(later, 1 << 17), ms(later + 1, 0)]
    finally:
        for relay in relays:
            await relay.stop()
        await owner.stop()


class TakesThenFails:
    """A store that stores the first insert and then reports a failure (a lost answer)."""

    def __init__(self, store: EntryStore) -> None:
        self.store = store
        self.tokens: list[str] = []

    def insert_rows(self, data: Any, token: str, fmt: str = "JSONEachRow") -> None:
        self.tokens.append(token)
        self.store.insert_rows(data, token, fmt)
        if len(self.tokens) == 1:
            raise StoreUnavailable("the answer was lost")


async def test_a_failed_insert_is_retried_as_the_same_batch_with_the_same_token(
    tmp_path: Path, store: EntryStore
) -> None:
    flaky = TakesThenFails(store)
    pipeline = Pipeline(flaky, tmp_path / "wal", batch_seconds=0.05)  # type: ignore[arg-type]
    await pipeline.start()
    try:
        await pipeline.submit("p", [{"message": "one", "level": "info", "severity": 2, "ts_ns": 1}])
        while not flaky.tokens:
            await asyncio.sleep(0.01)
        # More rows arrive before the retry: they must not join the retried batch.
        await pipeline.submit("p", [{"message": "two", "level": "info", "severity": 2, "ts_ns": 2}])
        await pipeline.wait_flushed(10)
    finally:
        await pipeline.stop()
    first = flaky.tokens[0]
    assert flaky.tokens.count(first) == 2, flaky.tokens  # retried with its own token
    assert all(t == first or t.endswith(":2-2") for t in flaky.tokens), flaky.tokens  # and alone
    assert store.query(f"SELECT message, count() FROM {store.table} GROUP BY message ORDER BY message") == [
        ("one", 1), ("two", 1)]


def test_the_owner_migrates_the_whole_metadata_schema(tmp_path: Path) -> None:
    """The owner never imports the alerting store; if its migration left those tables out,
    the workers would create them at once and one of them would fail to start."""
    import sqlite3
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'meta.sqlite3'}"
    code = f"from timberyard.storage.meta import MetaStore; MetaStore({url!r}).create()"
    subprocess.run([sys.executable, "-c", code], check=True)
    with sqlite3.connect(tmp_path / "meta.sqlite3") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"alert_notices", "organisations"} <= tables


def test_counts_without_a_quota_reach_the_owner_in_batches(
    store: EntryStore, meta: MetaStore, sock: Path
) -> None:
    org = meta.create_organisation("o", "enterprise")["id"]  # no quota: nothing to refuse
    meta.add_usage(org, month_of(NOW), 500, 0)  # counted before the owner started

    async def worker(limiter: Limiter) -> None:
        for _ in range(100):
            assert await limiter.reserve_async(org, 10) is False
        assert limiter.usage(org)["used"] >= 1000 + 500  # its own counts show at once
        await asyncio.sleep(0.2)  # past COUNT_SECONDS: sent

    with Running(store, sock) as running, limiters(meta, sock, 3) as nodes:
        threads = [threading.Thread(target=asyncio.run, args=(worker(n),)) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(n.usage(org)["used"] == 3500 for n in nodes)
        # a few calls per worker, not one per request
        assert running.owner.stats["calls"] < 3 * 10 + 10, running.owner.stats
        for n in nodes:
            n.save()
    assert meta.get_usage(org, month_of(NOW)) == (3500, 0)
