"""The native read API: q, ranges, pages, cursors, totals, histogram, facets, sessions, flows."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from conftest import Harness

T0 = 1_795_000_000_000  # ms, a fixed instant in 2026


def entry(i: int, **kw: Any) -> dict[str, Any]:
    return {"message": f"message number {i}", "timestamp": T0 + i * 1000, **kw}


async def ingest(h: Harness, logs: list[dict[str, Any]], headers: dict[str, str] | None = None) -> None:
    for start in range(0, len(logs), 1000):
        r = await h.client.post("/v1/logs", json={"logs": logs[start:start + 1000]}, headers=headers or h.auth())
        assert r.status_code == 200 and r.json()["rejected"] == 0, r.text
    await h.flushed()


async def get(h: Harness, path: str = "/v1/logs", **params: Any) -> Any:
    r = await h.client.get(path, params=params, headers=h.auth())
    return r


@pytest.fixture
async def loaded(harness: Harness) -> Harness:
    logs = [
        entry(0, level="error", service="api", fields={"route": "/api/orders", "durationMs": 5230, "status": 500},
              errorName="ConnectionError", message="DB connection refused", sessionId="s1"),
        entry(1, level="info", service="api", fields={"route": "/api/orders", "durationMs": 12, "status": 200},
              message="GET /api/orders 200", sessionId="s1", tags=["http"]),
        entry(2, level="warn", service="web", fields={"route": "/cart", "durationMs": 900}, message="Slow render of cart"),
        entry(3, level="debug", service="worker", message="Job sync completed", flowId="f1", stepIndex=2),
        entry(4, level="info", service="worker", message="Job sync started", flowId="f1", stepIndex=0),
        entry(5, level="info", service="worker", message="Job sync fetched", flowId="f1", stepIndex=1, sessionId="s1"),
        entry(6, level="fatal", service="api", message="Out of memory: it's over", fields={"service": "api"}),
    ]
    await ingest(harness, logs)
    return harness


def messages(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [e["message"] for e in r.json()["logs"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("level:error", ["DB connection refused"]),
        ("level:>=warn", ["Out of memory: it's over", "Slow render of cart", "DB connection refused"]),
        ("level:error AND fields.route:/api/orders", ["DB connection refused"]),
        ("fields.service:api", ["Out of memory: it's over"]),
        ("service:api -level:fatal", ["GET /api/orders 200", "DB connection refused"]),
        ("connection", ["DB connection refused"]),
        ("CONNECTION refused", ["DB connection refused"]),
        ('"connection refused"', ["DB connection refused"]),
        ("sync*", ["Job sync fetched", "Job sync started", "Job sync completed"]),
        ("fields.durationMs:>100", ["Slow render of cart", "DB connection refused"]),
        ("fields.durationMs:[10 TO 1000]", ["Slow render of cart", "GET /api/orders 200"]),
        ("fields.status:500", ["DB connection refused"]),
        ("sessionId:s1", ["Job sync fetched", "GET /api/orders 200", "DB connection refused"]),
        ("flowId:f1 AND stepIndex:>=1", ["Job sync fetched", "Job sync completed"]),
        ("tag:http", ["GET /api/orders 200"]),
        ("errorName:ConnectionError OR level:fatal", ["Out of memory: it's over", "DB connection refused"]),
        ("(service:web OR service:worker) NOT level:debug", ["Job sync fetched", "Job sync started", "Slow render of cart"]),
        ("fields.route:*", ["Slow render of cart", "GET /api/orders 200", "DB connection refused"]),
        ("\"it's over\"", ["Out of memory: it's over"]),
    ],
)
async def test_query_language_over_http(loaded: Harness, q: str, expected: list[str]) -> None:
    assert messages(await get(loaded, q=q)) == expected


@pytest.mark.parametrize(
    "q",
    ["'); DROP TABLE logs; --", "message:\"\\\"); DROP\"", "{p0:String}", "fields.x:\"' OR 1=1 --\"",
     "service:\"a\\\\\"", "\x00", "\\'", "fields.`x`:1"],
)
async def test_injection_attempts_never_break_sql(loaded: Harness, q: str) -> None:
    r = await get(loaded, q=q)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200 and q != "\\'":
        assert r.json()["logs"] == []
    assert (await get(loaded)).json()["total"] == 7  # the table is intact


@pytest.mark.parametrize(
    ("q", "position", "text"),
    [
        ("level:banana", 6, "level"),
        ("level:error AND", 15, "expected"),
        ("(level:error", 12, "expected"),
        ("fields.x:>abc", 10, "number"),
        ("nosuchfield:1", 0, "nosuchfield"),
    ],
)
async def test_query_errors_are_400_with_position(loaded: Harness, q: str, position: int, text: str) -> None:
    r = await get(loaded, q=q)
    assert r.status_code == 400
    doc = r.json()
    assert doc["code"] == "QUERY_ERROR" and doc["position"] == position and doc["query"] == q
    assert text in doc["error"] and q in doc["error"]


async def test_thousands_of_or_terms_rejected(loaded: Harness) -> None:
    r = await get(loaded, q=" OR ".join(f"w{i}" for i in range(3000)))
    assert r.status_code == 400 and "at most 4096 characters" in r.json()["error"]
    r = await get(loaded, q=" OR ".join(f"w{i}" for i in range(300)))
    assert r.status_code == 400 and "too many terms" in r.json()["error"]


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"from": T0 + 2000}, 5),
        ({"from": T0 + 2000, "to": T0 + 4000}, 2),
        ({"from": "2026-11-18T11:06:42Z"}, 5),
        ({"to": "2026-11-18T11:06:42.000Z"}, 2),
        ({"from": "-15m"}, 0),
        ({"from": "-10000d", "to": "now"}, 7),
    ],
)
async def test_time_ranges(loaded: Harness, params: dict[str, Any], count: int) -> None:
    assert len(messages(await get(loaded, **params))) == count


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"from": "yesterday"}, "invalid from"),
        ({"to": "2026-13-45"}, "invalid to"),
        ({"from": T0 + 5000, "to": T0}, "after"),
        ({"limit": 10001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "lots"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"offset": -1}, "offset"),
        ({"from": "-99999999999d"}, "from"),
    ],
)
async def test_bad_parameters_are_400(loaded: Harness, params: dict[str, Any], text: str) -> None:
    r = await get(loaded, **params)
    assert r.status_code == 400, r.text
    assert text in r.json()["error"]


async def test_order_limit_total_offset(loaded: Harness) -> None:
    desc = await get(loaded, limit=3)
    assert desc.json()["total"] == 7 and len(desc.json()["logs"]) == 3
    assert messages(desc)[0] == "Out of memory: it's over"
    asc = await get(loaded, order="asc", limit=2)
    assert messages(asc) == ["DB connection refused", "GET /api/orders 200"]
    assert "total" not in (await get(loaded, total="false")).json()
    assert messages(await get(loaded, order="asc", limit=2, offset=2)) == ["Slow render of cart", "Job sync completed"]


async def test_entry_shape_and_get_by_id(loaded: Harness) -> None:
    [first] = (await get(loaded, q="level:error")).json()["logs"]
    assert first["timestamp"] == T0 and first["time"] == "2026-11-18T11:06:40.000Z"
    assert first["fields"] == {"route": "/api/orders", "durationMs": 5230, "status": 500}
    assert first["errorName"] == "ConnectionError" and first["severity"] == 5 and len(first["id"]) == 16
    assert first["fingerprint"]
    same_group = (await get(loaded, q=f"fingerprint:{first['fingerprint']}")).json()["logs"]
    assert [e["id"] for e in same_group] == [first["id"]]
    r = await get(loaded, f"/v1/logs/{first['id']}")
    assert r.json() == first
    assert (await get(loaded, "/v1/logs/0000000000000000")).status_code == 404
    assert (await get(loaded, "/v1/logs/not-an-id")).status_code == 404
    _, keys = loaded.new_project()
    other = await loaded.client.get(f"/v1/logs/{first['id']}", headers={"Authorization": f"Bearer {keys['read']}"})
    assert other.status_code == 404


async def test_cursor_pages_exactly_once_during_ingestion(harness: Harness) -> None:
    h = harness
    await ingest(h, [{"message": f"old {i}", "timestamp": T0 + i} for i in range(2500)])
    seen: list[str] = []
    cursor = None
    stop = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not stop.is_set():
            await h.client.post("/v1/logs", json={"logs": [{"message": f"new {i}-{j}"} for j in range(50)]}, headers=h.auth())
            i += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(writer())
    try:
        while True:
            params: dict[str, Any] = {"limit": 300, "to": T0 + 10_000, "total": "false"}
            if cursor:
                params["cursor"] = cursor
            page = (await get(h, **params)).json()
            seen += [e["message"] for e in page["logs"]]
            cursor = page["nextCursor"]
            if not cursor:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    assert len(seen) == 2500 and len(set(seen)) == 2500
    assert seen[0] == "old 2499" and seen[-1] == "old 0"


async def test_cursor_with_ties_on_timestamp(harness: Harness) -> None:
    await ingest(harness, [{"message": f"tie {i}", "timestamp": T0} for i in range(25)])
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 7, "order": "asc"}
        if cursor:
            params["cursor"] = cursor
        page = (await get(harness, **params)).json()
        seen += [e["message"] for e in page["logs"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f"tie {i}" for i in range(25)) and len(seen) == 25
    r = await get(harness, cursor=cursor or "x", order="desc")
    assert r.status_code == 400


async def test_histogram(loaded: Harness) -> None:
    r = await get(loaded, "/v1/histogram", **{"from": T0, "to": T0 + 7000, "interval": "2s"})
    doc = r.json()
    assert doc["intervalMs"] == 2000 and doc["interval"] == "2s" and doc["total"] == 7
    assert [b["total"] for b in doc["buckets"]] == [2, 2, 2, 1]
    assert doc["buckets"][0]["counts"] == {"error": 1, "info": 1}
    auto = (await get(loaded, "/v1/histogram", **{"from": T0, "to": T0 + 3_600_000})).json()
    # Buckets align on the interval, so an unaligned range spans one more.
    assert auto["interval"] == "30s" and len(auto["buckets"]) == 121
    filtered = (await get(loaded, "/v1/histogram", q="service:worker", **{"from": T0, "to": T0 + 7000, "interval": "7s"})).json()
    assert filtered["total"] == 3
    merged: dict[str, int] = {}
    for bucket in filtered["buckets"]:
        for level, n in bucket["counts"].items():
            merged[level] = merged.get(level, 0) + n
    assert merged == {"debug": 1, "info": 2}
    too_many = await get(loaded, "/v1/histogram", **{"from": T0, "to": T0 + 86_400_000, "interval": "1s"})
    assert too_many.status_code == 400 and "buckets" in too_many.json()["error"]
    assert (await get(loaded, "/v1/histogram", interval="fast")).status_code == 400
    default = (await get(loaded, "/v1/histogram")).json()
    assert default["interval"] == "30m" and default["total"] == 0


async def test_fields_facets(loaded: Harness) -> None:
    doc = (await get(loaded, "/v1/fields", **{"from": T0, "to": T0 + 10_000})).json()
    by_name = {f["name"]: f for f in doc["fields"]}
    assert by_name["service"]["values"][0] == {"value": "api", "count": 3}
    assert by_name["service"]["count"] == 7
    assert {v["value"] for v in by_name["level"]["values"]} == {"error", "info", "warn", "debug", "fatal"}
    assert by_name["fields.route"]["values"][0] == {"value": "/api/orders", "count": 2}
    assert by_name["fields.durationMs"]["count"] == 3
    assert by_name["tag"]["values"] == [{"value": "http", "count": 1}]
    assert doc["rows"] == 7 and doc["sampled"] is False
    assert [f["name"] for f in doc["fields"]][:2] == ["level", "service"]
    narrowed = (await get(loaded, "/v1/fields", q="service:worker", **{"from": T0, "to": T0 + 10_000})).json()
    assert {f["name"] for f in narrowed["fields"]} >= {"level", "service"}
    assert "fields.route" not in {f["name"] for f in narrowed["fields"]}


async def test_session_and_flow_views(loaded: Harness) -> None:
    session = (await get(loaded, "/v1/sessions/s1")).json()
    assert [e["message"] for e in session["logs"]] == ["DB connection refused", "GET /api/orders 200", "Job sync fetched"]
    flow = (await get(loaded, "/v1/flows/f1")).json()
    assert [e["stepIndex"] for e in flow["logs"]] == [0, 1, 2]
    assert (await get(loaded, "/v1/flows/none")).json()["logs"] == []


async def test_read_endpoints_need_read_scope(loaded: Harness) -> None:
    for path in ("/v1/logs", "/v1/histogram", "/v1/fields", "/v1/sessions/s1", "/v1/flows/f1"):
        assert (await loaded.client.get(path, headers=loaded.auth("ingest"))).status_code == 403
        assert (await loaded.client.get(path)).status_code == 401
        assert (await loaded.client.get(path, headers=loaded.auth("read"))).status_code == 200


async def test_huge_limit_is_bounded_in_time(loaded: Harness) -> None:
    started = time.monotonic()
    r = await get(loaded, limit=10000, q="a* OR b* OR c*")
    assert r.status_code == 200 and time.monotonic() - started < 5


async def test_histogram_whole_minutes_uses_the_projection(harness: Harness) -> None:
    minute = T0 - T0 % 60_000
    logs = [{"message": f"m{i}", "timestamp": minute + i * 20_000, "level": "error" if i % 3 == 0 else "info"}
            for i in range(12)]  # 4 minutes, three entries each
    await ingest(harness, logs)
    params = {"from": minute, "to": minute + 4 * 60_000, "interval": "2m"}
    fast = (await get(harness, "/v1/histogram", **params)).json()
    slow = (await get(harness, "/v1/histogram", q="level:>=trace", **params)).json()
    assert fast["buckets"] == slow["buckets"]
    assert [b["total"] for b in fast["buckets"]] == [6, 6]
    assert fast["buckets"][0]["counts"] == {"error": 2, "info": 4}
    sql = "EXPLAIN SELECT toStartOfMinute(timestamp) AS m, severity, count() FROM {t} WHERE project_id = '{p}' GROUP BY m, severity"
    plan = " ".join(r[0] for r in harness.services.store.query(
        sql.format(t=harness.services.store.table, p=harness.project["id"])))
    assert "p_minute" in plan
