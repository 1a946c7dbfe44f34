"""GET /metrics in Prometheus text format after known traffic, and GET /ready."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from conftest import Harness

METRICS_TOKEN = "mt_metrics_test_token"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


async def test_metrics_after_known_traffic(make_harness: Any) -> None:
    async with make_harness(metrics_token=METRICS_TOKEN) as h:
        h: Harness
        for _ in range(3):
            r = await h.client.post("/v1/logs", json={"logs": [{"message": "a"}, {"message": "b"}]}, headers=h.auth())
            assert r.status_code == 200
        r = await h.client.post("/v1/logs", json={"logs": [{"message": "c"}, {"level": "nope"}]}, headers=h.auth())
        assert r.status_code == 200 and r.json()["rejected"] == 1
        assert (await h.client.post("/v1/logs", json={"message": "x"})).status_code == 401
        await h.flushed()
        assert (await h.client.get("/v1/logs", headers=h.auth())).status_code == 200

        assert (await h.client.get("/metrics")).status_code == 401
        assert (await h.client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await h.client.get("/metrics", headers=h.admin)).status_code == 200
        r = await h.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        got = samples(r.text)

    def value(name: str, **labels: str) -> float:
        return got[name, tuple(sorted(labels.items()))]

    assert value("timberyard_ingested_entries_total", surface="logs", outcome="accepted") == 7
    assert value("timberyard_ingested_entries_total", surface="logs", outcome="rejected") == 1
    assert value("timberyard_http_requests_total", route="/v1/logs", method="POST", status="200") == 4
    assert value("timberyard_http_requests_total", route="/v1/logs", method="POST", status="401") == 1
    assert value("timberyard_http_requests_total", route="/v1/logs", method="GET", status="200") == 1
    assert value("timberyard_http_request_duration_seconds_count", route="/v1/logs") == 6
    assert value("timberyard_ingested_bytes_total", surface="logs") > 0
    assert value("timberyard_http_request_body_bytes_total", route="/v1/logs") > 0
    assert value("timberyard_store_flushed_rows_total") == 7
    assert value("timberyard_store_insert_duration_seconds_count") >= 1
    assert value("timberyard_flush_lag_seconds_count") >= 1
    assert value("timberyard_wal_unflushed_bytes") == 0
    assert value("timberyard_wal_segments") >= 1
    assert value("timberyard_store_errors_total") == 0
    assert value("timberyard_tail_subscribers") == 0
    assert value("timberyard_ready") == 1
    # Where the memory goes: the store's tracked memory is real and bounds its caches.
    tracked = value("timberyard_store_memory_bytes", kind="tracked")
    assert tracked > 0
    for kind in ("mark_cache", "uncompressed_cache", "primary_index", "query_cache"):
        assert 0 <= value("timberyard_store_memory_bytes", kind=kind) <= tracked
    assert value("timberyard_python_allocated_blocks") > 10_000


async def test_rate_limited_and_quota_refused_are_counted(harness: Harness) -> None:
    h = harness
    r = await h.client.post("/v1/admin/organisations", json={"name": "small", "plan": "free"}, headers=h.admin)
    org = r.json()["id"]
    await h.client.patch(f"/v1/admin/organisations/{org}", json={"monthlyQuota": 2, "rateLimitPerMinute": 3},
                         headers=h.admin)
    _, keys = h.new_project(org)
    auth = {"Authorization": f"Bearer {keys['server']}"}
    statuses = [(await h.client.post("/v1/logs", json={"logs": [{"message": "m"}] * 2}, headers=auth)).status_code
                for _ in range(5)]
    assert statuses == [200, 402, 402, 429, 429]
    got = samples((await h.client.get("/metrics", headers=h.admin)).text)
    assert got["timberyard_refused_requests_total", (("reason", "rate"),)] == 2
    assert got["timberyard_refused_requests_total", (("reason", "quota"),)] == 2


async def test_ready_and_health(harness: Harness) -> None:
    r = await harness.client.get("/ready")
    assert r.status_code == 200 and r.json()["replayDone"] is True and r.json()["status"] == "ready"
    assert (await harness.client.get("/health")).status_code == 200


async def test_not_ready_while_the_store_is_unreachable(harness: Harness) -> None:
    pipeline = harness.services.pipeline
    pipeline._store_error = "connection refused"
    try:
        r = await harness.client.get("/ready")
        assert r.status_code == 503 and r.json()["status"] == "degraded" and r.json()["storeReachable"] is False
    finally:
        pipeline._store_error = None
