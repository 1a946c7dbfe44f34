"""The EntryStore interface: known rows in, each method's answer checked.

Every caller of the store (search, groups, compat reads, tail replay, retention)
goes through these methods; another implementation must pass this suite.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from timberyard.query import compile, parse
from timberyard.storage import schema
from timberyard.storage.entries import EntryStore
from timberyard.storage.filters import EntryFilter
from timberyard.storage.reader import format_id

S = 1_000_000_000  # ns
T0 = 1_795_000_020 * S  # a whole minute in 2026
DAY_MS = 86_400_000
LEVELS = ["trace", "debug", "info", "success", "warn", "error", "fatal"]

# id: (project, seconds after T0, level, message, extra columns)
ROWS: dict[int, tuple[str, int, str, str, dict[str, Any]]] = {
    1: (
        "p1",
        0,
        "info",
        "user signed in",
        {"session_id": "s1", "service": "web", "fields": {"route": "/login"}},
    ),
    2: (
        "p1",
        10,
        "error",
        "db connection refused",
        {
            "session_id": "s1",
            "service": "api",
            "fingerprint": "fp-db",
            "error_name": "DbError",
            "request_id": "r1",
        },
    ),
    3: (
        "p1",
        20,
        "warn",
        "slow query",
        {"service": "api", "instance_id": "i-1", "flow_id": "f1", "step_index": 2, "tags": ["db"]},
    ),
    4: (
        "p1",
        50,
        "error",
        "db connection refused again",
        {
            "service": "api",
            "fingerprint": "fp-db",
            "error_name": "DbError",
            "flow_id": "f1",
            "step_index": 1,
            "request_id": "r1",
        },
    ),
    5: (
        "p1",
        70,
        "fatal",
        "out of memory",
        {"service": "worker", "fingerprint": "fp-oom", "instance_id": "i-2", "flow_id": "f1"},
    ),
    6: ("p1", 70, "debug", "cache warm", {"service": "worker", "session_id": "s1"}),
    7: ("p2", 5, "error", "db connection refused", {"service": "api", "fingerprint": "fp-db"}),
}


def row(ident: int) -> dict[str, Any]:
    project, seconds, level, message, extra = ROWS[ident]
    out: dict[str, Any] = {
        "project_id": project,
        "ts_ns": T0 + seconds * S,
        "received_ms": (T0 + seconds * S) // 1_000_000,
        "id": ident,
        "level": level,
        "severity": LEVELS.index(level),
        "message": message,
        **extra,
    }
    if "fields" in out:
        out["fields"] = json.dumps(out["fields"])
    return out


def make_store(chdb_path: Path, ids: list[int]) -> EntryStore:
    store = EntryStore(f"chdb://{chdb_path}", f"c_{uuid.uuid4().hex[:12]}")
    store.open()
    lines = "\n".join(json.dumps(row(i)) for i in ids).encode()
    store.insert_rows(lines, token=uuid.uuid4().hex)
    return store


@pytest.fixture(scope="module")
def store(chdb_path: Path) -> Iterator[EntryStore]:
    s = make_store(chdb_path, list(ROWS))
    yield s
    s.drop_database()


def ids(entries: list[dict[str, Any]]) -> list[int]:
    return [int(e["id"], 16) for e in entries]


def q(text: str, **kw: Any) -> EntryFilter:
    sql, params = compile(parse(text))
    return EntryFilter("p1", condition=sql, params=params, **kw)


COUNTS = [
    (EntryFilter("p1"), 6),
    (EntryFilter("p2"), 1),
    (EntryFilter("p1", T0 + 10 * S, T0 + 70 * S), 3),
    (EntryFilter("p1", levels=["error", "fatal"]), 3),
    (EntryFilter("p1", service="api"), 3),
    (EntryFilter("p1", search="REFUSED"), 2),
    (EntryFilter("p1", instance_id="i-2"), 1),
    (q("level:>=error"), 3),
    (q("level:error", service="api", search="again"), 1),
    (EntryFilter("nobody"), 0),
]


@pytest.mark.parametrize(("flt", "expected"), COUNTS)
def test_count(store: EntryStore, flt: EntryFilter, expected: int) -> None:
    assert store.count(flt) == expected


PAGES = [
    # (order, limit, offset, after, ids)
    ("desc", 3, 0, None, [6, 5, 4]),
    ("desc", 3, 0, (T0 + 50 * S, 4), [3, 2, 1]),
    ("desc", 2, 0, (T0 + 70 * S, 6), [5, 4]),  # a tie on timestamp is broken by id
    ("asc", 3, 0, None, [1, 2, 3]),
    ("asc", 10, 0, (T0 + 20 * S, 3), [4, 5, 6]),
    ("asc", 2, 0, (T0 + 70 * S, 5), [6]),
    ("desc", 2, 2, None, [4, 3]),
    ("asc", 10, 5, None, [6]),
]


@pytest.mark.parametrize(("order", "limit", "offset", "after", "expected"), PAGES)
def test_page(
    store: EntryStore,
    order: str,
    limit: int,
    offset: int,
    after: tuple[int, int] | None,
    expected: list[int],
) -> None:
    page = store.page(EntryFilter("p1"), limit=limit, order=order, after=after, offset=offset)
    assert [i for _, i, _ in page] == expected
    for ts_ns, ident, entry in page:
        assert ts_ns == T0 + ROWS[ident][1] * S and entry["id"] == format_id(ident)


def test_get(store: EntryStore) -> None:
    entry = store.get("p1", 3)
    assert entry is not None
    assert (entry["id"], entry["message"], entry["level"]) == (format_id(3), "slow query", "warn")
    assert (entry["instanceId"], entry["flowId"], entry["stepIndex"], entry["tags"]) == (
        "i-1",
        "f1",
        2,
        ["db"],
    )
    assert store.get("p2", 3) is None and store.get("p1", 99) is None


RELATED = [
    ("session", "s1", [1, 2, 6]),
    ("request", "r1", [2, 4]),
    ("flow", "f1", [4, 3, 5]),  # by step index, then entries without one
    ("session", "none", []),
]


@pytest.mark.parametrize(("kind", "value", "expected"), RELATED)
def test_related(store: EntryStore, kind: str, value: str, expected: list[int]) -> None:
    assert ids(store.related("p1", kind, value)) == expected


def test_entries_after(store: EntryStore) -> None:
    assert [i for i, _ in store.entries_after(EntryFilter("p1"), 2, 10)] == [3, 4, 5, 6]
    assert [i for i, _ in store.entries_after(EntryFilter("p1"), 2, 2)] == [3, 4]
    assert [i for i, _ in store.entries_after(q("level:>=error"), 2, 10)] == [4, 5]
    assert store.entries_after(EntryFilter("p1"), 6, 10) == []


def test_histogram_buckets(store: EntryStore) -> None:
    origin = T0 // 1_000_000
    end = origin + 180_000
    # Whole-minute buckets without conditions come from the per-minute projection.
    plain = sorted(
        store.histogram(EntryFilter("p1", origin * 10**6, end * 10**6), origin, 60_000, end)
    )
    assert plain == [
        (0, "error", 2),
        (0, "info", 1),
        (0, "warn", 1),
        (1, "debug", 1),
        (1, "fatal", 1),
    ]
    # Second buckets, or any condition, read the entries themselves.
    flt = EntryFilter("p1", origin * 10**6, end * 10**6, service="worker")
    assert sorted(store.histogram(flt, origin, 60_000, end)) == [(1, "debug", 1), (1, "fatal", 1)]
    fine = sorted(store.histogram(EntryFilter("p1", T0, T0 + 30 * S), T0 // 10**6, 10_000, end))
    assert fine == [(0, "info", 1), (1, "error", 1), (2, "warn", 1)]


def test_facets(store: EntryStore) -> None:
    top, counts, scanned = store.facets(EntryFilter("p1"), sample=100, values=2)
    by_name: dict[str, list[tuple[str, int]]] = {}
    for name, value, n in top:
        by_name.setdefault(name, []).append((value, n))
    assert by_name["service"] == [("api", 3), ("worker", 2)]  # top 2 values only
    assert by_name["tag"] == [("db", 1)]
    assert by_name["fields.route"] == [("/login", 1)]
    assert counts["service"] == 6 and counts["instanceId"] == 2 and counts["errorName"] == 2
    assert scanned == 6
    assert store.facets(EntryFilter("p1"), sample=3, values=2)[2] == 4  # sample + 1: sampled


def test_error_groups(store: EntryStore) -> None:
    flt = EntryFilter("p1", T0, T0 + 80 * S)
    groups = store.error_groups(flt, step_ns=40 * S, limit=10, buckets=2)
    assert [g["fingerprint"] for g in groups] == ["fp-oom", "fp-db"]  # last seen first
    db = groups[1]
    assert (db["count"], db["first_ns"], db["last_ns"]) == (2, T0 + 10 * S, T0 + 50 * S)
    assert (db["severity"], db["service"], db["error_name"]) == (5, "api", "DbError")
    assert db["message"] == "db connection refused again" and list(db["trend"]) == [1, 1]
    assert db["sample"]["id"] == format_id(4)
    assert list(groups[0]["trend"]) == [0, 1]
    assert store.error_groups(flt, step_ns=40 * S, limit=1, buckets=2)[0]["fingerprint"] == "fp-oom"


def test_retention_deletes_and_partition_drops(chdb_path: Path) -> None:
    store = make_store(chdb_path, list(ROWS))
    try:
        parts = store.partitions()
        # Partitions: a day, split into errors and the rest (schema 3).
        assert {p for p, _, _ in parts} and all(n > 0 for _, _, n in parts)
        assert {project for _, project, _ in parts} == {"p1", "p2"}
        cutoff = (T0 + 15 * S) // 1_000_000
        assert store.delete_received_before("p1", cutoff) is True
        assert store.count(EntryFilter("p1")) == 4
        assert store.delete_received_before("p1", cutoff) is False
        store.delete_project("p2")
        assert store.count(EntryFilter("p2")) == 0
        for partition, _, _ in store.partitions():
            store.drop_partition(partition)
        assert store.count(EntryFilter("p1")) == 0 and store.partitions() == []
    finally:
        store.drop_database()


def test_stats(store: EntryStore) -> None:
    stats = store.stats()
    assert stats["rows"] == len(ROWS) and stats["parts"] >= 1 and stats["bytesOnDisk"] > 0


def test_schema_version(store: EntryStore) -> None:
    rows = store.query(f"SELECT max(version) FROM `{store.database}`.schema_version")
    assert rows == [(schema.SCHEMA_VERSION,)]
