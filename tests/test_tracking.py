"""POST /api/v1/tracking/log (seed 001): single events, levels, debounce."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conftest import Harness
from timberyard.debounce import parse_interval
from timberyard.errors import ValidationIssue

PATH = "/api/v1/tracking/log"


async def track(h: Harness, body: Any, kind: str = "server") -> Any:
    return await h.client.post(PATH, json=body, headers=h.auth(kind))


async def logs(h: Harness, **params: Any) -> list[dict[str, Any]]:
    await h.flushed()
    return (await h.client.get("/v1/logs", params=params, headers=h.auth())).json()["logs"]


async def test_seed_example(harness: Harness) -> None:
    r = await track(harness, {"message": "[checkout] Payment callback failed: missing transId (orderId=25000233)",
                              "level": "error", "sendNotification": True})
    assert r.status_code == 200
    doc = r.json()
    assert doc["success"] is True and doc["debounced"] is False and len(doc["id"]) == 16
    [entry] = await logs(harness)
    assert entry["id"] == doc["id"] and entry["level"] == "error"
    assert "sendNotification" not in entry["fields"] and "send_notification" not in entry


@pytest.mark.parametrize(("level", "stored"), [("info", "info"), ("success", "success"), ("error", "error"),
                                               ("warning", "warn"), ("critical", "fatal"), (None, "info")])
async def test_five_levels(harness: Harness, level: str | None, stored: str) -> None:
    body: dict[str, Any] = {"message": f"lvl {level}"}
    if level:
        body["level"] = level
    assert (await track(harness, body)).status_code == 200
    assert (await logs(harness))[0]["level"] == stored


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"level": "info"}, "message is required"),
        ({"message": "x", "level": "loud"}, "unknown level"),
        ({"message": "x", "level": "verbose"}, "unknown level 'verbose': expected one of info, success"),
        ({"message": "x", "level": "notice"}, "unknown level 'notice'"),
        ({"message": "x", "level": 3}, "unknown level 3"),
        ({"message": "x", "sendNotification": "yes"}, "sendNotification must be true or false"),
        ({"message": "x", "useDebounce": "sometimes"}, "useDebounce must be"),
        ({"message": "x", "useDebounce": {"maxInterval": "soon"}}, "invalid maxInterval 'soon'"),
        ({"message": "x", "useDebounce": {"maxInterval": "0m"}}, "out of range"),
        ({"message": "x", "useDebounce": {"maxInterval": "45d"}}, "out of range"),
        ({"message": "x", "useDebounce": {"key": ""}}, "useDebounce.key"),
        ({"message": "x", "useDebounce": {"window": "1m"}}, "unknown keys"),
    ],
)
async def test_bad_bodies(harness: Harness, body: dict[str, Any], text: str) -> None:
    r = await track(harness, body)
    assert r.status_code == 400 and text in r.json()["error"], r.text


async def test_auth(harness: Harness) -> None:
    assert (await harness.client.post(PATH, json={"message": "x"})).status_code == 401
    assert (await track(harness, {"message": "x"}, kind="read")).status_code == 403
    assert (await track(harness, {"message": "x"}, kind="ingest")).status_code == 200


@pytest.mark.parametrize(("value", "seconds"), [("10m", 600), ("1h 30m", 5400), ("1h30m", 5400), (15, 900),
                                                ("15", 900), ("90s", 90), (1.5, 90), ("2d", 172800)])
def test_intervals(value: Any, seconds: int) -> None:
    assert parse_interval(value) == seconds


@pytest.mark.parametrize("value", ["", "ten minutes", "m", "-5m", True, None, [], "1h 30x"])
def test_bad_intervals(value: Any) -> None:
    with pytest.raises(ValidationIssue):
        parse_interval(value)


async def test_debounce_folds_repeats_into_the_first_entry(harness: Harness) -> None:
    body = {"message": "Payment callback failed for order 123", "level": "error", "useDebounce": True}
    first = (await track(harness, body)).json()
    assert first["debounced"] is False
    repeats = [(await track(harness, {**body, "message": f"Payment callback failed for order {n}"})).json()
               for n in (124, 125, 126)]
    assert all(r["debounced"] is True and r["id"] == first["id"] for r in repeats)
    assert [r["count"] for r in repeats] == [2, 3, 4]
    [entry] = await logs(harness)
    assert entry["id"] == first["id"] and entry["fields"]["count"] == 4 and entry["fields"]["lastSeen"]
    other = (await track(harness, {**body, "level": "warning"})).json()
    assert other["debounced"] is False  # another level is another key


async def test_custom_key_and_window(harness: Harness) -> None:
    clock = harness.services.clock
    assert clock.fixed is None
    body = {"message": "anything", "useDebounce": {"key": "cron-sync", "maxInterval": "1h 30m"}}
    first = (await track(harness, body)).json()
    second = (await track(harness, {"message": "something else", "useDebounce": {"key": "cron-sync"}})).json()
    assert second["debounced"] is True and second["id"] == first["id"]
    assert (await track(harness, {"message": "anything"})).json()["debounced"] is False  # no debounce asked


async def test_window_expiry(make_harness: Any) -> None:
    from timberyard.clock import Clock

    clock = Clock(fixed=1_795_000_000.0)
    async with make_harness(clock=clock) as h:
        body = {"message": "noisy", "useDebounce": {"maxInterval": 10}}
        a = (await track(h, body)).json()
        clock.advance(9 * 60)
        assert (await track(h, body)).json()["debounced"] is True
        clock.advance(2 * 60)  # 11 minutes after the first: a new window
        b = (await track(h, body)).json()
        assert b["debounced"] is False and b["id"] != a["id"]
        assert (await track(h, body)).json()["id"] == b["id"]


async def test_concurrent_repeats_create_one_entry(harness: Harness) -> None:
    body = {"message": "burst", "level": "error", "useDebounce": True}
    results = await asyncio.gather(*(track(harness, body) for _ in range(30)))
    docs = [r.json() for r in results]
    assert sum(1 for d in docs if not d["debounced"]) == 1
    assert len({d["id"] for d in docs}) == 1
    [entry] = await logs(harness)
    assert entry["fields"]["count"] == 30
