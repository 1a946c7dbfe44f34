"""GET /v1/groups: error groups of the key's project, with counts, trend and a sample."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Harness

from .conftest import HOUR_MS, NOW_MS, alert_app, post_logs

STRIPE = {"service": "payments", "errorName": "TimeoutError"}


def stripe(seconds: int, at_ms: int, level: str = "error") -> dict[str, Any]:
    message = f"Timeout after {seconds}s calling https://api.stripe.com/v1/charges"
    return {**STRIPE, "level": level, "message": message, "timestamp": at_ms}


ENTRIES = [
    stripe(30, NOW_MS - 25 * HOUR_MS),  # before the default range
    stripe(31, NOW_MS - 47 * HOUR_MS // 2),  # bucket 0 of 24
    stripe(32, NOW_MS - 3 * HOUR_MS // 2, level="fatal"),  # bucket 22
    stripe(33, NOW_MS - HOUR_MS // 2),  # bucket 23
    stripe(34, NOW_MS - HOUR_MS // 2 + 1),  # bucket 23, the latest of the group
    {
        "level": "error",
        "message": "User 42 not found",
        "service": "users",
        "timestamp": NOW_MS - 5 * HOUR_MS // 2,
    },  # bucket 21
    {"level": "error", "message": "User 7 not found", "service": "users"},  # now: bucket 23
    {"level": "info", "message": "User 7 signed in", "service": "users"},
    {
        "level": "warn",
        "message": "Timeout after 2s calling https://api.stripe.com/v1/charges",
        **STRIPE,
    },
]


async def groups(h: Harness, key: str = "read", **params: Any) -> list[dict[str, Any]]:
    r = await h.client.get("/v1/groups", params=params, headers=h.auth(key))
    assert r.status_code == 200, r.text
    return r.json()["groups"]


@pytest.fixture
async def h(make_harness: Any) -> Any:
    async with alert_app(make_harness) as h:
        await post_logs(h, ENTRIES)
        await h.flushed()
        yield h


async def test_groups_of_the_last_24_hours(h: Harness) -> None:
    r = await h.client.get("/v1/groups", headers=h.auth("read"))
    doc = r.json()
    assert doc["from"] == NOW_MS - 24 * HOUR_MS and doc["to"] == NOW_MS
    assert doc["bucketMs"] == HOUR_MS
    users, payments = doc["groups"]  # most recently seen first

    assert payments["title"] == "Timeout after <num>s calling <url>"
    assert payments["service"] == "payments" and payments["errorName"] == "TimeoutError"
    assert payments["level"] == "fatal"  # the highest level of the group
    assert payments["count"] == 4
    assert payments["firstSeen"] == NOW_MS - 47 * HOUR_MS // 2
    assert payments["lastSeen"] == NOW_MS - HOUR_MS // 2 + 1
    trend = payments["trend"]
    assert len(trend) == 24 and sum(trend) == 4
    assert (trend[0], trend[22], trend[23]) == (1, 1, 2)
    sample = payments["sample"]
    assert sample["message"] == ENTRIES[4]["message"]
    assert sample["timestamp"] == ENTRIES[4]["timestamp"]
    assert (
        sample["projectId"] == h.project["id"] and sample["fingerprint"] == payments["fingerprint"]
    )
    assert sample["errorName"] == "TimeoutError" and sample["level"] == "error"
    r = await h.client.get(f"/v1/logs/{sample['id']}", headers=h.auth("read"))
    assert r.json() == sample

    assert users["title"] == "User <num> not found" and users["errorName"] is None
    assert users["count"] == 2 and users["level"] == "error"
    assert users["lastSeen"] == NOW_MS and users["sample"]["message"] == "User 7 not found"
    assert [i for i, n in enumerate(users["trend"]) if n] == [21, 23]


async def test_range_limit_buckets_and_query(h: Harness) -> None:
    # An explicit `to` excludes that instant (so users' latest is older); `from` reaches back.
    payments, users = await groups(h, **{"from": "-26h", "to": "now", "buckets": 26})
    assert payments["count"] == 5 and payments["firstSeen"] == NOW_MS - 25 * HOUR_MS
    assert payments["trend"][1] == 1 and len(payments["trend"]) == 26
    assert users["count"] == 1
    [only] = await groups(h, limit=1)
    assert only["service"] == "users"
    [found] = await groups(h, q="service:payments")
    assert found["service"] == "payments" and found["count"] == 4
    iso = await groups(h, **{"from": "2025-12-31T22:00:00Z", "to": "2025-12-31T23:59:00Z"})
    assert [(g["service"], g["count"], len(g["trend"])) for g in iso] == [("payments", 3, 24)]
    assert await groups(h, **{"from": str(NOW_MS + 1), "to": str(NOW_MS + 2)}) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": "0"}, "invalid limit"),
        ({"limit": "1001"}, "invalid limit"),
        ({"buckets": "0"}, "invalid buckets"),
        ({"from": "yesterday"}, "invalid from"),
        ({"from": "-1h", "to": "-2h"}, "'from'"),
        ({"q": "level:=err"}, "cannot parse query"),
    ],
)
async def test_invalid_parameters(h: Harness, params: dict[str, str], expected: str) -> None:
    r = await h.client.get("/v1/groups", params=params, headers=h.auth("read"))
    assert r.status_code == 400 and expected in r.json()["error"], r.text


async def test_groups_are_per_project_and_need_a_read_key(h: Harness) -> None:
    meta = h.services.meta
    sibling, sibling_keys = h.new_project()
    other_org = meta.create_organisation("globex", "enterprise")
    _, foreign_keys = h.new_project(other_org["id"])
    same = {"level": "error", "message": "User 1 not found", "service": "users"}
    await post_logs(h, [same, same], key=sibling_keys["server"])
    await post_logs(h, [same], key=foreign_keys["server"])
    await h.flushed()

    assert [g["count"] for g in await groups(h)] == [2, 4]
    r = await h.client.get(
        "/v1/groups", headers={"Authorization": f"Bearer {sibling_keys['read']}"}
    )
    [group] = r.json()["groups"]
    assert group["count"] == 2 and group["sample"]["projectId"] == sibling["id"]
    r = await h.client.get(
        "/v1/groups", headers={"Authorization": f"Bearer {foreign_keys['read']}"}
    )
    assert [g["count"] for g in r.json()["groups"]] == [1]

    assert (await h.client.get("/v1/groups")).status_code == 401
    assert (await h.client.get("/v1/groups", headers=h.auth("ingest"))).status_code == 403
