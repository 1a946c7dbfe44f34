"""The broker alone: ring buffers, coverage, fan-out, slow subscribers, the subscriber bound."""

from __future__ import annotations

from typing import Any

import pytest

from timberyard.errors import TimberyardError
from timberyard.query import parse
from timberyard.query.matcher import matcher
from timberyard.storage.reader import NAMES, to_entry
from timberyard.tail import Broker, row_entry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rows(first: int, count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"id": i, "level": "info", "severity": 2, "message": f"m{i}", "ts_ns": 0, **extra}
        for i in range(first, first + count)
    ]


def ids(chunks: list[list[dict[str, Any]]]) -> list[int]:
    return [row["id"] for chunk in chunks for row in chunk]


def make(**kw: Any) -> tuple[Broker, Clock]:
    clock = Clock()
    kw.setdefault("settle_seconds", 0)
    return Broker(clock=clock, **kw), clock


def test_rows_are_kept_without_subscribers() -> None:
    broker, _ = make()
    broker.publish("p", rows(10, 3))
    broker.publish("p", rows(13, 2))
    assert broker.recent("p", 9) == (True, [rows(10, 3), rows(13, 2)])
    covered, chunks = broker.recent("p", 11)
    assert covered and ids(chunks) == [10, 11, 12, 13, 14]  # whole chunks; callers filter
    assert ids(broker.recent("p", 12)[1]) == [13, 14]
    assert broker.recent("p", 14) == (True, [])
    assert broker.recent("p", 5) == (False, [rows(10, 3), rows(13, 2)])  # before the first
    assert broker.recent("q", 0) == (False, [])


@pytest.mark.parametrize(
    ("kw", "kept", "floor"),
    [
        ({"buffer_rows": 5}, [13, 14, 15, 16, 17], 12),
        ({"buffer_rows": 4}, [16, 17], 15),  # whole chunks go, oldest first
        ({"buffer_rows": 1}, [16, 17], 15),  # the newest chunk always stays
        ({"total_rows": 5}, [13, 14, 15, 16, 17], 12),  # the bound over all projects
        ({"total_rows": 4}, [16, 17], 15),
    ],
)
def test_row_limits(kw: dict[str, Any], kept: list[int], floor: int) -> None:
    broker, _ = make(**kw)
    for first, count in ((10, 3), (13, 3), (16, 2)):
        broker.publish("p", rows(first, count))
    covered, chunks = broker.recent("p", 0)
    assert ids(chunks) == kept and not covered
    assert broker.recent("p", floor)[0] and not broker.recent("p", floor - 1)[0]
    assert broker.stats()["bufferedRows"] == len(kept)


def test_young_rows_stay_past_the_limit_until_settled() -> None:
    broker, clock = make(buffer_rows=2, settle_seconds=2)
    broker.publish("p", rows(1, 2))
    broker.publish("p", rows(3, 2))
    assert ids(broker.recent("p", 0)[1]) == [1, 2, 3, 4]  # may not be stored yet
    clock.now += 3
    broker.publish("p", rows(5, 1))
    assert ids(broker.recent("p", 0)[1]) == [5]
    for first in range(6, 6 + 8, 2):  # but never past four times the limit
        broker.publish("p", rows(first, 2))
    assert broker.stats()["bufferedRows"] <= 8


def test_old_rows_go_in_every_project() -> None:
    broker, clock = make(buffer_seconds=60)
    broker.publish("idle", rows(1, 2))
    clock.now += 30
    broker.publish("busy", rows(3, 2))
    clock.now += 31
    broker.publish("busy", rows(5, 1))
    assert broker.recent("idle", 0) == (False, [])  # gone entirely
    assert ids(broker.recent("busy", 0)[1]) == [3, 4, 5]
    assert broker.stats()["bufferedRows"] == 3


def test_total_limit_takes_the_oldest_chunks_of_any_project() -> None:
    broker, _ = make(total_rows=4)
    broker.publish("a", rows(1, 2))
    broker.publish("b", rows(3, 2))
    broker.publish("a", rows(5, 2))
    assert ids(broker.recent("a", 0)[1]) == [5, 6] and broker.recent("a", 4)[0]
    assert ids(broker.recent("b", 0)[1]) == [3, 4]


def test_fan_out_hands_each_subscriber_its_rows() -> None:
    broker, _ = make()
    errors = broker.subscribe("p", matcher(parse("level:error")))
    odd = broker.subscribe("p", lambda row: row["id"] % 2 == 1)
    other = broker.subscribe("q", lambda row: True)
    batch = rows(1, 4) + rows(5, 2, level="error", severity=5)
    broker.publish("p", batch)
    assert ids(errors.take()) == [5, 6]
    assert ids(odd.take()) == [1, 3, 5]
    assert other.take() == [] and not other.wake.is_set()


def test_a_slow_subscriber_is_dropped_not_buffered() -> None:
    broker, _ = make(queue_rows=5)
    sub = broker.subscribe("p", lambda row: True)
    broker.publish("p", rows(1, 3))
    assert not sub.overflowed
    broker.publish("p", rows(4, 3))
    assert sub.overflowed and sub.take() == [] and sub.resume_after == 0
    assert broker.subscribers("p") == 0 and broker.dropped == 1
    broker.publish("p", rows(7, 1))  # no longer fed
    assert sub.take() == []


def test_subscriber_bound_per_project() -> None:
    broker, _ = make(max_subscribers=2)
    first = broker.subscribe("p", lambda row: True)
    broker.subscribe("p", lambda row: True)
    with pytest.raises(TimberyardError) as caught:
        broker.subscribe("p", lambda row: True)
    assert caught.value.status == 429 and caught.value.code == "RATE_LIMITED"
    assert caught.value.message == "too many live tail subscribers for this project (limit 2)"
    broker.subscribe("q", lambda row: True)
    broker.unsubscribe(first)
    broker.unsubscribe(first)  # idempotent
    broker.subscribe("p", lambda row: True)


def test_row_entry_fills_what_a_row_leaves_out() -> None:
    row = {"project_id": "p", "id": 255, "ts_ns": 1_705_312_200_123_456_789, "received_ms": 5,
           "level": "warn", "severity": 4, "message": "hi", "fields": '{"a":[1]}'}
    entry = row_entry(row)
    assert entry["id"] == "00000000000000ff"
    assert entry["timestamp"] == 1_705_312_200_123
    assert entry["time"] == "2024-01-15T09:50:00.123456789Z"
    assert entry["receivedAt"] == 5 and entry["projectId"] == "p"
    assert entry["fields"] == {"a": [1]} and entry["tags"] == []
    assert entry["stepIndex"] is None and entry["service"] is None


def test_events_are_rendered_once_per_row() -> None:
    broker, _ = make(queue_rows=3)
    calls: list[int] = []

    def render(row: dict[str, Any]) -> bytes:
        calls.append(row["id"])
        return b"%d" % row["id"]

    for row in rows(1, 3) * 2 + rows(4, 1) + rows(1, 1):  # two tails send the same rows
        assert broker.rendered(row, render) == b"%d" % row["id"]
    assert calls == [1, 2, 3, 4, 1]  # at most queue_rows kept: 4 pushed 1 out


FULL = {
    "project_id": "p", "id": 2**63 + 5, "ts_ns": 1_705_312_200_000_000_001, "received_ms": 17,
    "level": "error", "severity": 5, "message": "boom", "service": "api", "environment": "prod",
    "dataset": "default", "host": "h", "instance_id": "i", "version": "1", "user_id": "u",
    "session_id": "s", "request_id": "r", "flow_id": "f", "trace_id": "t", "span_id": "sp",
    "step_index": 0, "error_name": "E", "error_stack": "at x", "tags": ["a", "b"],
    "fields": '{"n":1.5,"o":{"p":[null,true]}}', "fingerprint": "fp",
}


@pytest.mark.parametrize(
    "row",
    [
        FULL,
        {**FULL, "ts_ns": 0, "service": "", "tags": [], "fields": "", "step_index": None},
        {**FULL, "ts_ns": 1_705_312_200_123_000_000},
        {**FULL, "ts_ns": 1_705_312_200_123_400_000},
        {"project_id": "p", "id": 1, "ts_ns": 86_399_999_999_999, "level": "info", "message": "m"},
    ],
)
def test_row_entry_is_what_the_store_shows(row: dict[str, Any]) -> None:
    """What to_entry() makes of the row once stored (missing columns read as defaults)."""
    stored = {"timestamp_ns": row.get("ts_ns") or 0, "received_at": row.get("received_ms") or 0,
              "severity": row.get("severity") or 0, "tags": row.get("tags") or [],
              "step_index": row.get("step_index")}
    values = [stored[name] if name in stored else row.get(name) or "" for name in NAMES]
    expected = to_entry(values)
    entry = row_entry(row)
    assert entry == expected and list(entry) == list(expected)
