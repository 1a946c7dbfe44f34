"""GET /logs as seed 002 documents it: its examples, limit, offset, startDate, endDate."""

from __future__ import annotations

import pytest

from conftest import Harness

from .conftest import ingest
from .seed002 import BAD_DATE, bad, get, messages, ok

pytestmark = pytest.mark.asyncio(loop_scope="module")

SEED_LOGS = [
    {
        "timestamp": "2023-10-27T10:35:15Z",
        "level": "ERROR",
        "service": "user-service",
        "message": "Failed to authenticate user: invalid credentials for user_id 12345",
        "details": {"user_id": 12345, "ip_address": "192.168.1.100"},
    },
    {
        "timestamp": "2023-10-27T10:30:01Z",
        "level": "INFO",
        "service": "product-service",
        "message": "Product with ID 9876 retrieved successfully.",
        "details": {"product_id": 9876, "user_agent": "PostmanRuntime/7.28.0"},
    },
]

# -- the seed's examples -------------------------------------------------------


async def test_seed_example_request_verbatim(compat: Harness) -> None:
    h = compat
    extra = [
        {
            "timestamp": f"2023-10-27T09:{m:02d}:00Z",
            "level": "error",
            "service": "user-service",
            "message": f"user-service failure {m}",
        }
        for m in range(0, 55, 5)  # 09:00 (inclusive bound) to 09:50: 11 entries
    ]
    distractors = [
        {
            "timestamp": "2023-10-27T08:59:59Z",
            "level": "error",
            "service": "user-service",
            "message": "too early",
        },
        {
            "timestamp": "2023-10-27T10:00:00Z",
            "level": "error",
            "service": "payment-gateway",
            "message": "other service",
        },
        {
            "timestamp": "2023-10-27T10:40:00Z",
            "level": "warn",
            "service": "user-service",
            "message": "only a warning",
        },
    ]
    await ingest(h, SEED_LOGS + extra + distractors)
    r = await h.client.get(
        "/logs?limit=10&level=ERROR&service=user-service&startDate=2023-10-27T09:00:00Z",
        headers=h.auth("read"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    assert body["data"]["pagination"] == {"total": 12, "limit": 10, "offset": 0, "nextOffset": 10}
    logs = body["data"]["logs"]
    assert len(logs) == 10
    assert logs[0] == SEED_LOGS[0]
    assert [log["timestamp"] for log in logs[1:]] == [
        f"2023-10-27T09:{m:02d}:00Z" for m in range(50, 5, -5)
    ]
    assert {(log["level"], log["service"]) for log in logs} == {("ERROR", "user-service")}
    page2 = await ok(
        h,
        limit=10,
        level="ERROR",
        service="user-service",
        startDate="2023-10-27T09:00:00Z",
        offset=10,
    )
    assert messages(page2) == ["user-service failure 5", "user-service failure 0"]
    assert page2["pagination"] == {"total": 12, "limit": 10, "offset": 10, "nextOffset": None}


async def test_seed_example_entries_round_trip(compat: Harness) -> None:
    await ingest(compat, SEED_LOGS)
    data = await ok(compat)
    assert data == {
        "logs": SEED_LOGS,
        "pagination": {"total": 2, "limit": 50, "offset": 0, "nextOffset": None},
    }


# -- limit and offset ----------------------------------------------------------


async def test_defaults_limit_50_offset_0_newest_first(compat: Harness) -> None:
    await ingest(
        compat, [{"timestamp": 1_700_000_000_000 + i * 1000, "message": f"m{i}"} for i in range(55)]
    )
    data = await ok(compat)
    assert messages(data) == [f"m{i}" for i in range(54, 4, -1)]
    assert data["pagination"] == {"total": 55, "limit": 50, "offset": 0, "nextOffset": 50}
    rest = await ok(compat, offset=50)
    assert messages(rest) == ["m4", "m3", "m2", "m1", "m0"]
    assert rest["pagination"] == {"total": 55, "limit": 50, "offset": 50, "nextOffset": None}


async def test_paging_through_ties_neither_repeats_nor_skips(compat: Harness) -> None:
    await ingest(
        compat, [{"timestamp": "2024-01-01T00:00:00Z", "message": f"tie {i}"} for i in range(23)]
    )
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        data = await ok(compat, limit=7, offset=offset)
        seen += messages(data)
        offset = data["pagination"]["nextOffset"]
    assert sorted(seen) == sorted(f"tie {i}" for i in range(23))


async def test_limit_bounds(compat: Harness) -> None:
    await ingest(compat, [{"message": f"m{i}"} for i in range(3)])
    assert (await ok(compat, limit=1))["pagination"] == {
        "total": 3,
        "limit": 1,
        "offset": 0,
        "nextOffset": 1,
    }
    assert (await ok(compat, limit=1000))["pagination"]["limit"] == 1000
    assert (await ok(compat, limit=""))["pagination"]["limit"] == 50


BAD_LIMITS = ["1001", "0", "-1", "abc", "1.5", "10" * 20, "1e3"]
BAD_OFFSETS = ["-1", "x", "2.0", "1000000001"]


async def test_limit_and_offset_out_of_range_are_400(compat: Harness) -> None:
    for value in BAD_LIMITS:
        r = await get(compat, limit=value)
        bad(r, f"Invalid value {value!r} for 'limit'. Please use an integer from 1 to 1000.")
    for value in BAD_OFFSETS:
        r = await get(compat, offset=value)
        bad(r, f"Invalid value {value!r} for 'offset'. Please use an integer from 0 to 1000000000.")


async def test_offset_past_the_end(compat: Harness) -> None:
    await ingest(compat, [{"message": "only"}])
    data = await ok(compat, offset=5)
    assert data == {
        "logs": [],
        "pagination": {"total": 1, "limit": 50, "offset": 5, "nextOffset": None},
    }


# -- startDate and endDate ----------------------------------------------------

DATED = [
    ("2023-10-27T09:59:59.999Z", "before"),
    ("2023-10-27T10:00:00Z", "start"),
    ("2023-10-27T11:00:00.250Z", "middle"),
    ("2023-10-27T12:00:00Z", "end"),
    ("2023-10-27T12:00:00.001Z", "after"),
    ("2023-10-27T23:59:59.999Z", "late"),
    ("2023-10-28T00:00:00Z", "next day"),
]


DATE_CASES: list[tuple[dict[str, str], list[str]]] = [
    (
        {"startDate": "2023-10-27T10:00:00Z", "endDate": "2023-10-27T12:00:00Z"},
        ["end", "middle", "start"],
    ),
    ({"startDate": "2023-10-27T10:00:00.001Z"}, ["next day", "late", "after", "end", "middle"]),
    ({"endDate": "2023-10-27T10:00:00Z"}, ["start", "before"]),
    (
        {"startDate": "2023-10-27T12:00:00+02:00", "endDate": "2023-10-27T12:00:00.250+01:00"},
        ["middle", "start"],
    ),
    ({"startDate": "2023-10-27T10:00:00", "endDate": "2023-10-27T10:00:00"}, ["start"]),
    (
        {"startDate": "2023-10-27", "endDate": "2023-10-27"},
        ["late", "after", "end", "middle", "start", "before"],
    ),
    ({"startDate": "2023-10-28T00:00:00Z"}, ["next day"]),
    ({"startDate": "2030-01-01T00:00:00Z"}, []),
]


async def test_date_bounds_are_inclusive(compat: Harness) -> None:
    await ingest(compat, [{"timestamp": ts, "message": m} for ts, m in DATED])
    for params, expected in DATE_CASES:
        data = await ok(compat, **params)
        assert messages(data) == expected, params
        assert data["pagination"]["total"] == len(expected), params


async def test_unencoded_plus_in_offset_still_parses(compat: Harness) -> None:
    await ingest(compat, [{"timestamp": ts, "message": m} for ts, m in DATED])
    r = await compat.client.get(
        "/logs?startDate=2023-10-27T12:00:00+02:00&endDate=2023-10-27T11:00:00.250Z",
        headers=compat.auth("read"),
    )
    assert r.status_code == 200, r.text
    assert [log["message"] for log in r.json()["data"]["logs"]] == ["middle", "start"]


MALFORMED_DATES = [
    "yesterday",
    "2023-13-01T00:00:00Z",
    "2023-10-27T25:00:00Z",
    "27/10/2023",
    "1698400000000",
    "1698400000.5",
    "-15m",
    "now",
    "2023-10-27T10:00:00ZZ",
    "1960-01-01T00:00:00Z",
    "2023-10-27T10:00:00Z junk",
]


async def test_malformed_dates_are_400(compat: Harness) -> None:
    for name in ("startDate", "endDate"):
        for value in MALFORMED_DATES:
            r = await get(
                compat,
                **{
                    name: value,
                    "startDate" if name == "endDate" else "endDate": "2023-10-27T10:00:00Z",
                },
            )
            bad(r, BAD_DATE.format(name))


async def test_start_after_end_is_400(compat: Harness) -> None:
    r = await get(compat, startDate="2023-10-27T12:00:00Z", endDate="2023-10-27T10:00:00Z")
    bad(r, "Invalid date range: 'startDate' is after 'endDate'.")
