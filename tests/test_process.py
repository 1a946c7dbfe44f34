"""A real server process: kill -9 during ingestion, SIGTERM, restart on the same folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from serverproc import Server, init
from timberyard.ingest.wal import WriteAheadLog

pytestmark = pytest.mark.process


def all_messages(server: Server, key: str) -> list[str]:
    messages: list[str] = []
    cursor = None
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        while True:
            params: dict[str, Any] = {"limit": 10000, "order": "asc", "total": "false"}
            if cursor:
                params["cursor"] = cursor
            page = c.get("/v1/logs", params=params).json()
            messages += [e["message"] for e in page["logs"]]
            cursor = page["nextCursor"]
            if not cursor:
                return messages


def wait_for_count(server: Server, key: str, expected: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        got = all_messages(server, key)
        if len(got) >= expected or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_kill_9_loses_no_acknowledged_entry_and_stores_none_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds = init(data)
    key = creds["key"]
    server = Server(data, TIMBERYARD_BATCH_SECONDS="0.05").start()
    acked: set[str] = set()
    attempted: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        n = 0
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
            while not stop.is_set():
                batch = [f"w{worker}-b{n}-e{i}" for i in range(50)]
                n += 1
                with lock:
                    attempted.update(batch)
                try:
                    r = c.post("/v1/logs", json={"logs": [{"message": m, "level": "info"} for m in batch]})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    with lock:
                        acked.update(batch)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(6)]
    try:
        for t in threads:
            t.start()
        time.sleep(2.5)
        server.kill9()  # in the middle of ingestion: requests and batches in flight
        stop.set()
        for t in threads:
            t.join(15)
        assert len(acked) > 1000, "too little was acknowledged before the kill to prove anything"
        server.start()
        stored = wait_for_count(server, key, len(acked))
    finally:
        stop.set()
        server.stop()
    counts: dict[str, int] = {}
    for m in stored:
        counts[m] = counts.get(m, 0) + 1
    missing = acked - counts.keys()
    twice = [m for m, c in counts.items() if c > 1]
    assert not missing, f"{len(missing)} acknowledged entries lost, e.g. {sorted(missing)[:3]}"
    assert not twice, f"{len(twice)} entries stored twice, e.g. {twice[:3]}"
    assert set(counts) <= attempted


def test_sigterm_flushes_and_exits_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds = init(data)
    # A long batch window: nothing would reach the store on its own before SIGTERM.
    server = Server(data, TIMBERYARD_BATCH_SECONDS="30").start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {creds['key']}"}) as c:
            r = c.post("/v1/logs", json={"logs": [{"message": f"term {i}"} for i in range(300)]})
            assert r.status_code == 200
        assert server.terminate() == 0
        log = server.log.read_text()
        assert "Traceback" not in log
        # Nothing is left to replay: the checkpoint covers every record.
        checkpoint, unflushed = WriteAheadLog(data / "wal").open()
        assert unflushed == [] and checkpoint.flushed >= 1
        server.start()
        assert len(all_messages(server, creds["key"])) == 300
    finally:
        server.stop()


def test_server_logs_its_address_and_init_is_known(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds = init(data)
    assert creds["adminToken"].startswith("adm_")
    again = init(data)
    assert "adminToken" not in again and again["key"] != creds["key"]
    server = Server(data, TIMBERYARD_LOG_LEVEL="info").start()
    try:
        for key in (creds["key"], again["key"]):
            r = httpx.post(f"{server.url}/v1/logs", json={"message": "hello"}, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200
        r = httpx.get(f"{server.url}/v1/admin/organisations", headers={"Authorization": f"Bearer {creds['adminToken']}"})
        assert r.status_code == 200 and len(r.json()["organisations"]) == 2
    finally:
        server.terminate()
    assert f"listening on http://127.0.0.1:{server.port}" in server.log.read_text()


def test_debounce_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds = init(data)
    headers = {"Authorization": f"Bearer {creds['key']}"}
    body = {"message": "Nightly export failed", "level": "error", "useDebounce": {"maxInterval": "1h 30m"}}
    server = Server(data).start()
    try:
        first = httpx.post(f"{server.url}/api/v1/tracking/log", json=body, headers=headers).json()
        assert first["debounced"] is False
        server.kill9()
        server.start()
        again = httpx.post(f"{server.url}/api/v1/tracking/log", json=body, headers=headers).json()
        assert again == {"success": True, "id": first["id"], "debounced": True, "count": 2}
        time.sleep(0.5)
        logs = httpx.get(f"{server.url}/v1/logs", headers=headers).json()["logs"]
        assert [e["id"] for e in logs] == [first["id"]] and logs[0]["fields"]["count"] == 2
    finally:
        server.stop()
