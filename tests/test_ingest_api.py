"""POST /v1/logs through the HTTP API: body shapes, errors, limits and keys."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

import msgspec
import pytest

from conftest import Harness

ENTRY = {"level": "error", "message": "DB connection refused", "fields": {"service": "api", "durationMs": 5230}}


async def post(h: Harness, body: Any, kind: str = "server", **kw: Any) -> Any:
    headers = {**h.auth(kind), **kw.pop("headers", {})}
    if isinstance(body, bytes | str):
        return await h.client.post("/v1/logs", content=body, headers=headers, **kw)
    return await h.client.post("/v1/logs", json=body, headers=headers, **kw)


async def stored(h: Harness, q: str = "", **params: Any) -> list[dict[str, Any]]:
    await h.flushed()
    r = await h.client.get("/v1/logs", params={"limit": 1000, **params}, headers=h.auth())
    assert r.status_code == 200, r.text
    return r.json()["logs"]


@pytest.mark.parametrize(
    "body",
    [
        {"entries": [ENTRY]},  # seed 000
        {"logs": [ENTRY]},  # seed 003
        [ENTRY],  # bare array
        ENTRY,  # single object
    ],
    ids=["entries", "logs", "array", "object"],
)
async def test_four_json_shapes(harness: Harness, body: Any) -> None:
    r = await post(harness, body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["success"] is True and doc["count"] == 1 and doc["accepted"] == 1
    assert doc["rejected"] == 0 and doc["limitReached"] is False
    assert doc["bytesIngested"] == len(r.request.content)
    assert abs(doc["timestamp"] - time.time() * 1000) < 60_000
    assert "errors" not in doc
    [entry] = await stored(harness)
    assert entry["message"] == "DB connection refused" and entry["level"] == "error"
    assert entry["service"] == "api" and entry["fields"] == {"service": "api", "durationMs": 5230}


async def test_seed_000_example_payload(harness: Harness) -> None:
    body = {"entries": [{"level": "error", "message": "DB connection refused",
                         "fields": {"service": "api", "route": "/api/orders", "stack": "Error: ECONNREFUSED ...", "durationMs": 5230},
                         "timestamp": "2026-04-27T12:34:56Z", "sessionId": "optional-frontend-session-id"}]}
    r = await post(harness, body)
    assert r.json()["accepted"] == 1
    [entry] = await stored(harness)
    assert entry["time"] == "2026-04-27T12:34:56.000Z"
    assert entry["timestamp"] == 1777293296000
    assert entry["sessionId"] == "optional-frontend-session-id"
    assert entry["fields"]["durationMs"] == 5230


async def test_ndjson(harness: Harness) -> None:
    body = (b'{"level":"error","message":"Connection refused","source":"api","environment":"production"}\n'
            b"\n"
            b'{"level":"info","message":"Request completed","source":"api","environment":"production"}\n')
    r = await post(harness, body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200 and r.json()["count"] == 2
    logs = await stored(harness, order="asc")
    assert sorted(e["message"] for e in logs) == ["Connection refused", "Request completed"]
    assert {e["environment"] for e in logs} == {"production"}


async def test_parse_error_names_the_line_and_stores_nothing(harness: Harness) -> None:
    body = b'{"message":"a"}\n{"message":"b"}\n{"message": nope}\n'
    r = await post(harness, body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 400
    assert r.json() == {"error": "Failed to parse line 3: invalid JSON", "code": "PARSE_ERROR", "line": 3}
    assert await stored(harness) == []


async def test_bad_json_is_a_located_parse_error(harness: Harness) -> None:
    r = await post(harness, b'{"logs": [\n {"message": "a"},\n {"message": }\n]}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    doc = r.json()
    assert doc["code"] == "PARSE_ERROR" and doc["line"] == 3 and "invalid JSON" in doc["error"]


async def test_rejected_entries_are_reported_and_valid_ones_stored(harness: Harness) -> None:
    body = {"logs": [{"message": "ok 1"}, {"level": "banana", "message": "x"}, {"message": ""}, {"message": "ok 2"}]}
    r = await post(harness, body)
    assert r.status_code == 200
    doc = r.json()
    assert (doc["accepted"], doc["rejected"], doc["count"]) == (2, 2, 2)
    assert [e["index"] for e in doc["errors"]] == [1, 2]
    assert "unknown level 'banana'" in doc["errors"][0]["error"]
    assert sorted(e["message"] for e in await stored(harness)) == ["ok 1", "ok 2"]


async def test_rejected_lines_carry_line_numbers(harness: Harness) -> None:
    body = b'{"message":"a"}\n\n{"message":"b","level":"nope"}\n'
    r = await post(harness, body, headers={"Content-Type": "application/x-ndjson"})
    assert r.json()["errors"] == [{"index": 1, "error": r.json()["errors"][0]["error"], "line": 3}]


async def test_at_most_100_errors_reported(harness: Harness) -> None:
    body = {"logs": [{"message": ""}] * 150 + [{"message": "fine"}]}
    doc = (await post(harness, body)).json()
    assert doc["rejected"] == 150 and len(doc["errors"]) == 100 and doc["accepted"] == 1


async def test_strict_fails_whole_request(harness: Harness) -> None:
    body = {"logs": [{"message": "ok"}, {"message": "x", "level": "loud"}]}
    r = await post(harness, body, params={"strict": "true"})
    assert r.status_code == 400
    doc = r.json()
    assert doc["code"] == "VALIDATION_ERROR" and doc["issues"][0]["index"] == 1
    assert "unknown level" in doc["error"]
    assert await stored(harness) == []


async def test_all_invalid_is_a_validation_error(harness: Harness) -> None:
    r = await post(harness, {"logs": [{"level": "info"}]})
    assert r.status_code == 400 and r.json()["code"] == "VALIDATION_ERROR"
    assert "message is required" in r.json()["error"]


async def test_gzip_body(harness: Harness) -> None:
    raw = msgspec.json.encode({"logs": [{"message": f"zipped {i}"} for i in range(10)]})
    r = await post(harness, gzip.compress(raw), headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted"] == 10
    assert r.json()["bytesIngested"] == len(raw)


async def test_corrupt_gzip_is_400(harness: Harness) -> None:
    r = await post(harness, b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "gzip" in r.json()["error"]


async def test_unknown_content_encoding_is_415(harness: Harness) -> None:
    r = await post(harness, b"{}", headers={"Content-Encoding": "br"})
    assert r.status_code == 415


async def test_body_over_limit_is_413(make_harness: Any) -> None:
    async with make_harness(max_body_bytes=10_000) as h:
        big = msgspec.json.encode({"logs": [{"message": "x" * 5000}, {"message": "y" * 6000}]})
        r = await post(h, big)
        assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE"
        bomb = gzip.compress(b'{"logs":[{"message":"' + b"z" * 50_000 + b'"}]}')
        r = await post(h, bomb, headers={"Content-Encoding": "gzip"})
        assert r.status_code == 413
        assert await stored(h) == []


async def test_more_than_1000_entries_is_400_naming_the_limit(harness: Harness) -> None:
    r = await post(harness, {"logs": [{"message": "m"}] * 1001})
    assert r.status_code == 400 and "the limit is 1000" in r.json()["error"]
    r = await post(harness, {"logs": [{"message": "m"}] * 1000})
    assert r.status_code == 200 and r.json()["accepted"] == 1000


async def test_message_over_64k_rejected(harness: Harness) -> None:
    r = await post(harness, {"logs": [{"message": "x" * 65537}, {"message": "x" * 65536}]})
    doc = r.json()
    assert doc["accepted"] == 1 and doc["rejected"] == 1 and "65536" in doc["errors"][0]["error"]


async def test_query_defaults(harness: Harness) -> None:
    r = await post(harness, b'{"message":"a"}\n{"message":"b","source":"own"}', headers={"Content-Type": "application/x-ndjson"},
                   params={"source": "nginx", "environment": "production", "level": "warn", "dataset": "edge"})
    assert r.status_code == 200
    logs = {e["message"]: e for e in await stored(harness)}
    assert logs["a"]["service"] == "nginx" and logs["b"]["service"] == "own"
    assert logs["a"]["level"] == "warn" and logs["a"]["dataset"] == "edge"
    assert logs["a"]["environment"] == "production"


async def test_bad_default_level_is_400(harness: Harness) -> None:
    r = await post(harness, {"message": "a"}, params={"level": "shouty"})
    assert r.status_code == 400 and "level" in r.json()["error"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic abc", "Bearer tb_live_xxxxxxxxxxxxx", "Bearer sk_short", "Bearer xk_aaaaaaaaaaaaaaaaaaaaaaaa",
     "Bearer sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
    ids=["missing", "empty-bearer", "basic", "foreign-prefix", "short", "unknown-prefix", "unknown-key"],
)
async def test_invalid_keys_are_401(harness: Harness, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = await harness.client.post("/v1/logs", json={"message": "x"}, headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "Invalid API key"


async def test_revoked_key_is_401(harness: Harness) -> None:
    meta = harness.services.meta
    row, secret = meta.create_key(harness.project["id"], "server")
    r = await harness.client.post("/v1/logs", json={"message": "x"}, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200
    r = await harness.client.delete(f"/v1/admin/keys/{row['id']}", headers=harness.admin)
    assert r.status_code == 200
    r = await harness.client.post("/v1/logs", json={"message": "x"}, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401


async def test_inactive_or_deleted_project_is_404(harness: Harness) -> None:
    project, keys = harness.new_project()
    headers = {"Authorization": f"Bearer {keys['server']}"}
    r = await harness.client.patch(f"/v1/admin/projects/{project['id']}", json={"active": False}, headers=harness.admin)
    assert r.status_code == 200 and r.json()["active"] is False
    r = await harness.client.post("/v1/logs", json={"message": "x"}, headers=headers)
    assert r.status_code == 404
    project2, keys2 = harness.new_project()
    await harness.client.delete(f"/v1/admin/projects/{project2['id']}", headers=harness.admin)
    r = await harness.client.post("/v1/logs", json={"message": "x"}, headers={"Authorization": f"Bearer {keys2['server']}"})
    assert r.status_code == 404


async def test_scopes(harness: Harness) -> None:
    assert (await post(harness, {"message": "x"}, kind="ingest")).status_code == 200
    assert (await post(harness, {"message": "x"}, kind="read")).status_code == 403
    assert (await post(harness, {"message": "x"}, kind="public")).status_code == 403
    r = await harness.client.get("/v1/logs", headers=harness.auth("ingest"))
    assert r.status_code == 403
    assert (await harness.client.get("/v1/logs", headers=harness.auth("read"))).status_code == 200


async def test_searchable_within_one_second(make_harness: Any) -> None:
    async with make_harness(batch_seconds=0.25) as h:
        r = await post(h, {"message": "find me quickly"})
        acked = time.monotonic()
        assert r.status_code == 200
        found_after = None
        while time.monotonic() - acked < 2:
            got = await h.client.get("/v1/logs", headers=h.auth())
            if got.json()["logs"]:
                found_after = time.monotonic() - acked
                break
            await asyncio.sleep(0.02)
        assert found_after is not None and found_after < 1.0


async def test_concurrent_requests_all_stored_once(harness: Harness) -> None:
    async def one(i: int) -> int:
        r = await post(harness, {"logs": [{"message": f"c{i}-{j}"} for j in range(20)]})
        return r.json()["accepted"]

    accepted = await asyncio.gather(*(one(i) for i in range(50)))
    assert sum(accepted) == 1000
    logs = await stored(harness)
    assert len({e["message"] for e in logs}) == 1000 and len(logs) == 1000
    assert len({e["id"] for e in logs}) == 1000


async def test_non_object_entries_rejected(harness: Harness) -> None:
    doc = (await post(harness, [1, "two", {"message": "three"}])).json()
    assert doc["accepted"] == 1 and doc["rejected"] == 2


async def test_unknown_format_is_400_naming_the_known_ones(harness: Harness) -> None:
    r = await post(harness, b"x", params={"format": "yaml"})
    assert r.status_code == 400 and r.json()["code"] == "BAD_REQUEST"
    assert "unknown format 'yaml'" in r.json()["error"] and "syslog" in r.json()["error"]


async def test_unknown_content_type_still_sniffs(harness: Harness) -> None:
    r = await post(harness, b'{"message": "m"}', headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200 and r.json()["accepted"] == 1


async def test_unknown_route_is_json_404(harness: Harness) -> None:
    r = await harness.client.get("/nope")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
