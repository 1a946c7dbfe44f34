"""`serve --workers 2` as a real process tree: one store, shared limits and tails, crashes."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from serverproc import ADMIN, Server, init
from timberyard.ingest.wal import WriteAheadLog

pytestmark = pytest.mark.process


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def workers_of(server: Server, count: int = 2, timeout: float = 30) -> list[int]:
    """The worker pids, once `count` of them run."""
    assert server.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = children(server.proc.pid)
        if len(found) == count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"expected {count} workers, found {children(server.proc.pid)}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def post_fresh(url: str, key: str, body: Any) -> httpx.Response:
    """One request on a connection of its own: the kernel hands it to either worker."""
    return httpx.post(f"{url}/v1/logs", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def stored(server: Server, key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        while True:
            params: dict[str, Any] = {"limit": 10000, "order": "asc", "total": "false", "from": "0"}
            if cursor:
                params["cursor"] = cursor
            page = c.get("/v1/logs", params=params).json()
            out += page["logs"]
            cursor = page["nextCursor"]
            if not cursor:
                return out


def wait_stored(server: Server, key: str, expected: int, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        got = stored(server, key)
        if len(got) >= expected or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def slot(entry_id: str) -> int:
    """Which worker assigned an id: its slot of the millisecond's id space."""
    return (int(entry_id, 16) & 0xFFFFF) >> 17


class Tail(threading.Thread):
    """A live tail read in the background: the ids and messages of its `log` events."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.events: list[tuple[str, str]] = []
        self.opened = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        import json

        headers = {"Authorization": f"Bearer {self.key}", "Accept": "text/event-stream"}
        with httpx.stream("GET", f"{self.url}/v1/tail", headers=headers, timeout=60) as r:
            assert r.status_code == 200
            self.opened.set()
            event: dict[str, str] = {}
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if not line:
                    if event.get("event") == "log":
                        self.events.append((event["id"], json.loads(event["data"])["message"]))
                    event = {}
                    continue
                name, _, value = line.partition(": ")
                event[name] = value


def test_two_workers_share_one_store_the_usage_and_the_live_tail(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds = init(data)
    key = creds["key"]
    server = Server(data, "--workers", "2", TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        workers_of(server)
        tail = Tail(server.url, key)
        tail.start()
        assert tail.opened.wait(20)
        time.sleep(0.5)  # the tail's worker has told the other one (see HubRelay.want)
        sent = [f"m{i:03d}-{j}" for i in range(100) for j in range(5)]

        def send(part: int) -> None:
            for i in range(part, 100, 4):
                r = post_fresh(server.url, key, [{"message": f"m{i:03d}-{j}"} for j in range(5)])
                assert r.status_code == 200, r.text

        threads = [threading.Thread(target=send, args=(p,)) for p in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        entries = wait_stored(server, key, 500)
        assert sorted(e["message"] for e in entries) == sorted(sent)
        assert {slot(e["id"]) for e in entries} == {0, 1}, "both workers should have taken requests"
        usage = httpx.get(f"{server.url}/v1/usage", headers={"Authorization": f"Bearer {key}"}).json()
        assert usage["used"] == 500  # counted once, whichever worker answers
        deadline = time.monotonic() + 10
        while len(tail.events) < 500 and time.monotonic() < deadline:
            time.sleep(0.1)
        tail.stop.set()
        ids = [int(i, 16) for i, _ in tail.events]
        assert sorted(m for _, m in tail.events) == sorted(sent), "the tail missed the other worker's rows"
        assert ids == sorted(ids), "the tail's events are not in id order"
        assert {slot(i) for i, _ in tail.events} == {0, 1}
    finally:
        server.stop()


def test_rate_limit_and_hard_quota_are_exact_across_workers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds = init(data, plan="free")  # hard quota
    key, org = creds["key"], creds["organisation"]
    server = Server(data, "--workers", "2", TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        workers_of(server)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        r = httpx.patch(f"{server.url}/v1/admin/organisations/{org}",
                        json={"rateLimitPerMinute": 20, "monthlyQuota": 10**6}, headers=admin)
        assert r.status_code == 200, r.text
        time.sleep(6)  # past the workers' 5 s cache of the organisation's limits
        codes = [post_fresh(server.url, key, {"message": f"rate {i}"}).status_code for i in range(40)]
        assert 20 <= codes.count(200) <= 21, Counter(codes)  # 21: a token refilled meanwhile
        assert set(codes) == {200, 429}
        r = httpx.patch(f"{server.url}/v1/admin/organisations/{org}",
                        json={"rateLimitPerMinute": 10**6, "monthlyQuota": codes.count(200) + 50}, headers=admin)
        assert r.status_code == 200, r.text
        time.sleep(6)
        results: list[int] = []
        lock = threading.Lock()

        def send(part: int) -> None:
            for i in range(25):
                code = post_fresh(server.url, key, {"message": f"quota {part}-{i}"}).status_code
                with lock:
                    results.append(code)

        threads = [threading.Thread(target=send, args=(p,)) for p in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert Counter(results) == {200: 50, 402: 50}
        assert len(wait_stored(server, key, codes.count(200) + 50)) == codes.count(200) + 50
    finally:
        server.stop()


class Senders:
    """Threads that post batches until stopped, recording what was acknowledged."""

    def __init__(self, url: str, key: str, threads: int = 6) -> None:
        self.url, self.key = url, key
        self.acked: set[str] = set()
        self.attempted: set[str] = set()
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(threads)]

    def run(self, worker: int) -> None:
        n = 0
        while not self.halt.is_set():
            batch = [f"s{worker}-b{n}-e{i}" for i in range(50)]
            n += 1
            with self.lock:
                self.attempted.update(batch)
            try:
                # A connection per request: both workers take part.
                r = post_fresh(self.url, self.key, {"logs": [{"message": m} for m in batch]})
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                with self.lock:
                    self.acked.update(batch)

    def __enter__(self) -> Senders:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.halt.set()
        for t in self.threads:
            t.join(30)


def assert_exactly_once(entries: list[dict[str, Any]], senders: Senders) -> None:
    counts = Counter(e["message"] for e in entries)
    missing = senders.acked - counts.keys()
    twice = [m for m, c in counts.items() if c > 1]
    assert not missing, f"{len(missing)} acknowledged entries lost, e.g. {sorted(missing)[:3]}"
    assert not twice, f"{len(twice)} entries stored twice, e.g. {twice[:3]}"
    assert set(counts) <= senders.attempted


def test_a_worker_killed_9_is_restarted_and_its_log_replayed_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = init(data)["key"]
    server = Server(data, "--workers", "2", TIMBERYARD_BATCH_SECONDS="0.05", TIMBERYARD_LOG_LEVEL="info").start()
    try:
        first, second = workers_of(server)
        with Senders(server.url, key) as senders:
            time.sleep(2.0)
            os.kill(second, signal.SIGKILL)  # requests and a batch of its own in flight
            time.sleep(2.0)  # the other worker goes on; the supervisor starts a new one
            replaced = workers_of(server)
            assert first in replaced and second not in replaced
        assert len(senders.acked) > 1000, "too little was acknowledged to prove anything"
        entries = wait_stored(server, key, len(senders.acked))
        assert_exactly_once(entries, senders)
        assert "exited with -9; restarting it" in server.log.read_text()
    finally:
        server.stop()


def test_the_owner_killed_9_stops_the_workers_and_a_restart_stores_everything_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = init(data)["key"]
    server = Server(data, "--workers", "2", TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        pids = workers_of(server)
        with Senders(server.url, key) as senders:
            time.sleep(2.5)
            server.kill9()  # the store's process: inserts in flight fail or half-finish
            deadline = time.monotonic() + 60
            while any(alive(p) for p in pids) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert not any(alive(p) for p in pids), "the workers outlived their owner"
        assert len(senders.acked) > 1000
        server.start()
        workers_of(server)
        entries = wait_stored(server, key, len(senders.acked))
        assert_exactly_once(entries, senders)
    finally:
        server.stop()


def test_sigterm_flushes_every_worker_and_a_plain_serve_finds_nothing_left(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = init(data)["key"]
    # A long batch window: nothing reaches the store before SIGTERM on its own.
    server = Server(data, "--workers", "2", TIMBERYARD_BATCH_SECONDS="30").start()
    try:
        workers_of(server)
        for i in range(30):
            assert post_fresh(server.url, key, [{"message": f"term {i}-{j}"} for j in range(10)]).status_code == 200
        assert server.terminate() == 0
        assert "Traceback" not in server.log.read_text()
        for index in (0, 1):
            _, unflushed = WriteAheadLog(data / "wal" / f"worker-{index}").open()
            assert unflushed == []
        plain = Server(data).start()
        try:
            assert len(stored(plain, key)) == 300
        finally:
            plain.stop()
    finally:
        server.stop()


def test_a_plain_serve_replays_what_killed_workers_left(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = init(data)["key"]
    server = Server(data, "--workers", "2", TIMBERYARD_BATCH_SECONDS="30").start()
    try:
        pids = workers_of(server)
        for i in range(30):
            assert post_fresh(server.url, key, [{"message": f"left {i}-{j}"} for j in range(10)]).status_code == 200
        server.kill9()
        for pid in pids:  # the workers may still flush to nowhere: kill them too
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        plain = Server(data).start()
        try:
            entries = wait_stored(plain, key, 300, timeout=30)
            assert sorted(e["message"] for e in entries) == sorted(f"left {i}-{j}" for i in range(30) for j in range(10))
            assert not list((data / "wal").glob("worker-*")), "replayed worker logs should be removed"
        finally:
            plain.stop()
    finally:
        server.stop()
