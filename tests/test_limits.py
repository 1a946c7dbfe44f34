"""Plans, monthly quotas and rate limits, including under concurrent requests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conftest import Harness
from timberyard.clock import Clock
from timberyard.errors import TimberyardError
from timberyard.limits import Limiter
from timberyard.storage.meta import MetaStore


async def org_with_key(h: Harness, plan: str, **overrides: Any) -> tuple[str, dict[str, str]]:
    r = await h.client.post("/v1/admin/organisations", json={"name": f"{plan}-org", "plan": plan}, headers=h.admin)
    org = r.json()["id"]
    if overrides:
        r = await h.client.patch(f"/v1/admin/organisations/{org}", json=overrides, headers=h.admin)
        assert r.status_code == 200, r.text
    _, keys = h.new_project(org)
    return org, {"Authorization": f"Bearer {keys['server']}"}


async def count_stored(h: Harness, headers: dict[str, str]) -> int:
    await h.flushed()
    return (await h.client.get("/v1/logs", params={"limit": 1}, headers=headers)).json()["total"]


async def test_hard_quota_is_exact_under_concurrency(harness: Harness) -> None:
    h = harness
    org, headers = await org_with_key(h, "free", monthlyQuota=500, rateLimitPerMinute=100_000)

    async def send(i: int) -> int:
        r = await h.client.post("/v1/logs", json={"logs": [{"message": f"q{i}-{j}"} for j in range(10)]}, headers=headers)
        return r.status_code

    statuses = await asyncio.gather(*(send(i) for i in range(100)))
    assert statuses.count(200) == 50 and statuses.count(402) == 50
    assert await count_stored(h, headers) == 500
    usage = (await h.client.get("/v1/usage", headers=headers)).json()
    assert usage["used"] == 500 and usage["quota"] == 500 and usage["limitReached"] is True
    assert usage["remaining"] == 0 and usage["overage"] == 0 and usage["plan"] == "free"


async def test_402_body_and_nothing_stored(harness: Harness) -> None:
    h = harness
    _, headers = await org_with_key(h, "free", monthlyQuota=5)
    r = await h.client.post("/v1/logs", json={"logs": [{"message": "x"}] * 6}, headers=headers)
    assert r.status_code == 402
    doc = r.json()
    assert doc["code"] == "QUOTA_EXCEEDED" and doc["limitReached"] is True and "5 remain" in doc["error"]
    r = await h.client.post("/v1/logs", json={"logs": [{"message": "x"}] * 5}, headers=headers)
    assert r.status_code == 200 and r.json()["limitReached"] is True
    assert (await h.client.post("/v1/logs", json={"message": "one more"}, headers=headers)).status_code == 402
    assert await count_stored(h, headers) == 5


async def test_free_plan_default_quota(harness: Harness) -> None:
    h = harness
    _, headers = await org_with_key(h, "free")
    usage = (await h.client.get("/v1/usage", headers=headers)).json()
    assert usage["quota"] == 10_000 and usage["rateLimitPerMinute"] == 60 and usage["hardLimit"] is True


async def test_overage_plan_stores_and_counts(harness: Harness) -> None:
    h = harness
    _, headers = await org_with_key(h, "pro", monthlyQuota=10)
    first = await h.client.post("/v1/logs", json={"logs": [{"message": "a"}] * 8}, headers=headers)
    assert first.json()["limitReached"] is False
    second = await h.client.post("/v1/logs", json={"logs": [{"message": "b"}] * 8}, headers=headers)
    assert second.status_code == 200 and second.json()["limitReached"] is True
    usage = (await h.client.get("/v1/usage", headers=headers)).json()
    assert (usage["used"], usage["overage"], usage["hardLimit"]) == (16, 6, False)
    assert await count_stored(h, headers) == 16


async def test_rate_limit_per_organisation_and_key(harness: Harness) -> None:
    h = harness
    org, headers = await org_with_key(h, "free", rateLimitPerMinute=5)
    statuses = [(await h.client.post("/v1/logs", json={"message": "r"}, headers=headers)).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    r = await h.client.post("/v1/logs", json={"message": "r"}, headers=headers)
    assert r.json() == {"error": "Rate limit exceeded", "code": "RATE_LIMITED", "retryAfter": int(r.headers["Retry-After"])}
    assert 1 <= r.json()["retryAfter"] <= 60
    # Another key of the same organisation shares the organisation's budget.
    _, keys = h.new_project(org)
    r = await h.client.post("/v1/logs", json={"message": "r"}, headers={"Authorization": f"Bearer {keys['server']}"})
    assert r.status_code == 429
    # Another organisation is not affected.
    assert (await h.client.post("/v1/logs", json={"message": "r"}, headers=h.auth())).status_code == 200


async def test_rate_limited_requests_store_nothing_and_count_nothing(harness: Harness) -> None:
    h = harness
    _, headers = await org_with_key(h, "pro", rateLimitPerMinute=2)
    for _ in range(4):
        await h.client.post("/v1/logs", json={"logs": [{"message": "m"}] * 3}, headers=headers)
    assert (await h.client.get("/v1/usage", headers=headers)).json()["used"] == 6
    assert await count_stored(h, headers) == 6


async def test_enterprise_has_no_limits(harness: Harness) -> None:
    statuses = await asyncio.gather(*(harness.client.post("/v1/logs", json={"message": "e"}, headers=harness.auth()) for _ in range(100)))
    assert {r.status_code for r in statuses} == {200}
    usage = (await harness.client.get("/v1/usage", headers=harness.auth())).json()
    assert usage["quota"] is None and usage["limitReached"] is False and usage["used"] == 100


async def test_usage_month_parameter(harness: Harness) -> None:
    r = await harness.client.get("/v1/usage", params={"month": "2020-13"}, headers=harness.auth())
    assert r.status_code == 400
    r = await harness.client.get("/v1/usage", params={"month": "2020-01"}, headers=harness.auth())
    assert r.json()["used"] == 0 and r.json()["month"] == "2020-01"
    assert (await harness.client.get("/v1/usage")).status_code == 401


async def test_counters_survive_restart(meta_url: str) -> None:
    meta = MetaStore(meta_url)
    meta.create()
    org = meta.create_organisation("o", "free")["id"]
    clock = Clock(fixed=1_795_000_000.0)
    first = Limiter(meta, clock)
    await first.start(period=3600)
    first.reserve(org, 7)
    first.reserve(org, 3)
    await first.stop()
    second = Limiter(meta, clock)
    assert second.usage(org)["used"] == 10
    second.reserve(org, 9_990)
    with pytest.raises(TimberyardError) as info:
        second.reserve(org, 1)
    assert info.value.status == 402
    second.save()
    assert Limiter(meta, clock).usage(org)["used"] == 10_000
    clock.advance(40 * 86400)  # next month: a fresh counter
    assert Limiter(meta, clock).usage(org)["used"] == 0


def test_token_bucket_refills() -> None:
    meta_clock = Clock(fixed=1000.0)
    from timberyard.limits import TokenBucket

    bucket = TokenBucket(60, meta_clock())
    assert all(bucket.take(1000.0) == 0 for _ in range(60))
    wait = bucket.take(1000.0)
    assert 0 < wait <= 1.0
    assert bucket.take(1001.0) == 0


async def test_limits_can_be_turned_off(make_harness: Any) -> None:
    async with make_harness(enforce_limits=False) as h:
        _, headers = await org_with_key(h, "free", monthlyQuota=1, rateLimitPerMinute=1)
        statuses = {(await h.client.post("/v1/logs", json={"logs": [{"message": "x"}] * 3}, headers=headers)).status_code
                    for _ in range(3)}
        assert statuses == {200}


async def test_counts_survive_a_failed_save(meta_url: str) -> None:
    """Defect 13: a database error while saving must keep the pending counts for the next save."""
    meta = MetaStore(meta_url)
    meta.create()
    orgs = [meta.create_organisation(f"o{i}", "pro")["id"] for i in range(3)]
    limiter = Limiter(meta, Clock(fixed=1_795_000_000.0))
    for n, org in enumerate(orgs, start=1):
        limiter.reserve(org, n)
    real_add = meta.add_usage
    calls: list[str] = []

    def flaky_add(org_id: str, month: str, count: int, overage: int) -> None:
        calls.append(org_id)
        if len(calls) == 2:
            raise OSError("database is locked")
        real_add(org_id, month, count, overage)

    meta.add_usage = flaky_add  # type: ignore[method-assign]
    with pytest.raises(OSError):
        limiter.save()
    limiter.reserve(orgs[0], 10)  # counted while the failed save was being handled
    limiter.save()
    limiter.save()  # nothing left: no double counting
    fresh = Limiter(meta, Clock(fixed=1_795_000_000.0))
    assert [fresh.usage(org)["used"] for org in orgs] == [11, 2, 3]


@pytest.mark.parametrize(
    "seconds",
    [0, 1706745599.9, 1706745600, 1735689599.999, 1735689600, 1764547199, 1764547200, 1706745599.9],
)
def test_month_of_across_month_and_year_ends(seconds: float) -> None:
    from datetime import UTC, datetime

    from timberyard.limits import month_of

    assert month_of(seconds) == datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m")
