"""After a kill -9, reads wait for the WAL replay: a search right after the restart sees every acked entry."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from prometheus_client.parser import text_string_to_metric_families

from serverproc import Server, free_port, init

pytestmark = pytest.mark.process


def test_search_right_after_kill_9_restart_sees_every_acknowledged_entry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = init(data)["key"]
    auth = {"Authorization": f"Bearer {key}"}
    # A long batch wait: the acknowledged entries are in the WAL only when the process dies.
    metrics_port = free_port()
    server = Server(data, "--metrics-port", str(metrics_port), TIMBERYARD_BATCH_SECONDS="600",
                    TIMBERYARD_READY_WAIT_SECONDS="10").start()
    try:
        for i in range(5):
            r = httpx.post(f"{server.url}/v1/logs", json={"logs": [{"message": f"acked-{i}-{j}"} for j in range(20)]},
                           headers=auth, timeout=10)
            assert r.status_code == 200
        server.kill9()
        server.start()
        started = time.monotonic()
        r = httpx.get(f"{server.url}/v1/logs", params={"limit": 1000, "q": "acked"}, headers=auth, timeout=30)
        assert r.status_code == 200 and r.json()["total"] == 100, r.text
        assert time.monotonic() - started < 10
        assert httpx.get(f"{server.url}/ready", timeout=5).status_code == 200
        # The metrics port answers without a token; the main port wants one.
        assert httpx.get(f"{server.url}/metrics", timeout=5).status_code == 401
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        values = {s.name: s.value for f in text_string_to_metric_families(scraped) for s in f.samples}
        assert values["timberyard_store_flushed_rows_total"] == 100 and values["timberyard_ready"] == 1
    finally:
        server.stop()
