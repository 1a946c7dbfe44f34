"""Native insert blocks: the compiled encoder stores exactly what JSON lines store."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timberyard import _fastmodel
from timberyard.ingest import pipeline as pipeline_module
from timberyard.ingest.pipeline import Pipeline
from timberyard.ingest.wal import WriteAheadLog, rows_in
from timberyard.storage import schema
from timberyard.storage.entries import EntryStore

NOW_NS = 1_705_312_200_123_456_789


def encode(rows: list[dict[str, Any]]) -> bytes:
    return _fastmodel.encode_native(rows, schema.NATIVE_COLUMNS)


@pytest.fixture
def stores(chdb_path: Path) -> Any:
    pair = []
    for _ in range(2):
        s = EntryStore(f"chdb://{chdb_path}", f"n_{uuid.uuid4().hex[:10]}")
        s.open()
        pair.append(s)
    yield pair
    for s in pair:
        s.drop_database()


def everything(store: EntryStore) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.query(f"SELECT * FROM {store.table} ORDER BY id")]


def row(i: int, **extra: Any) -> dict[str, Any]:
    return {"project_id": "prj_1", "id": 2**63 + i, "ts_ns": NOW_NS + i,
            "received_ms": NOW_NS // 10**6, "level": "info", "severity": 2, "message": f"m{i}",
            "dataset": "default", **extra}


EDGE_ROWS = [
    row(0),
    row(1, service="api", environment="production", host="h", instance_id="i", version="1.2",
        user_id="u", session_id="s", request_id="r", flow_id="f", trace_id="t", span_id="sp",
        error_name="E", error_stack="at x\n\tat y", fingerprint="abc", fields='{"a":1,"b":"é"}'),
    row(2, tags=["a", "é", ""], step_index=0),
    row(3, tags=[], step_index=1000),
    row(4, step_index=None, message="ünïcødé 😀 \t\n \\ \x00 end", level="fatal", severity=6),
    row(5, message="x" * 70_000, fields="{" + '"k":' + '"' + "v" * 300 + '"}'),
    row(6, ts_ns=0, received_ms=0),
    {"project_id": "p", "id": 7, "ts_ns": 1, "received_ms": 1, "level": "warn", "severity": 4,
     "message": "only what is required"},
]


def test_native_and_json_lines_store_the_same(stores: list[EntryStore]) -> None:
    native, lines = stores
    native.insert_rows(encode(EDGE_ROWS), "t", "Native")
    lines.insert_rows(msgspec.json.Encoder().encode_lines(EDGE_ROWS), "t", "JSONEachRow")
    got = everything(native)
    assert got == everything(lines)
    assert len(got) == len(EDGE_ROWS)


def test_a_batch_of_blocks_in_chunks(stores: list[EntryStore]) -> None:
    native, _ = stores
    blocks = [encode([row(i * 100 + j) for j in range(100)]) for i in range(5)]
    native.insert_rows(iter(blocks), "t", "Native")  # as the flusher reads them from the WAL
    assert native.query(f"SELECT count(), uniqExact(id) FROM {native.table}") == [(500, 500)]


@pytest.mark.parametrize("count", [1, 127, 128, 16_383, 16_384, 20_000])
def test_rows_in_a_native_record(count: int) -> None:
    assert rows_in(encode([row(i) for i in range(count)]), "Native") == count


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"message": 5}, TypeError),
        ({"severity": 300}, OverflowError),
        ({"step_index": 70_000}, OverflowError),
        ({"tags": "a"}, TypeError),
        ({"tags": [1]}, TypeError),
        ({"id": -1}, OverflowError),
    ],
)
def test_a_row_that_is_not_canonical_is_refused(bad: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        encode([row(0, **bad)])


text = st.text(max_size=30)


@st.composite
def canonical_rows(draw: st.DrawFn) -> dict[str, Any]:
    r = row(draw(st.integers(0, 10**6)), message=draw(st.text(min_size=1, max_size=40)))
    for name in ("service", "environment", "host", "user_id", "session_id", "error_stack",
                 "fields", "fingerprint"):
        if draw(st.booleans()):
            r[name] = draw(text)
    if draw(st.booleans()):
        r["tags"] = draw(st.lists(st.text(max_size=10), max_size=4))
    if draw(st.booleans()):
        r["step_index"] = draw(st.none() | st.integers(0, 1000))
    r["ts_ns"] = draw(st.integers(0, 2**62))
    return r


@settings(max_examples=30, deadline=None)
@given(st.lists(canonical_rows(), min_size=1, max_size=20, unique_by=lambda r: r["id"]))
def test_property_native_equals_json_lines(chdb_path: Path, rows: list[dict[str, Any]]) -> None:
    pair = [EntryStore(f"chdb://{chdb_path}", f"p_{uuid.uuid4().hex[:10]}") for _ in range(2)]
    try:
        for s in pair:
            s.open()
        pair[0].insert_rows(encode(rows), "t", "Native")
        pair[1].insert_rows(msgspec.json.Encoder().encode_lines(rows), "t", "JSONEachRow")
        assert everything(pair[0]) == everything(pair[1])
    finally:
        for s in pair:
            s.drop_database()


async def test_json_lines_left_by_an_earlier_version_replay_beside_native(
    tmp_path: Path, stores: list[EntryStore]
) -> None:
    store, _ = stores
    old = WriteAheadLog(tmp_path / "wal", fmt="JSONEachRow")  # what the earlier version wrote
    old.open()
    old.write([msgspec.json.Encoder().encode_lines([row(i) for i in range(3)])])
    old.close()
    pipeline = Pipeline(store, tmp_path / "wal", batch_seconds=0.01)
    assert pipeline.wal.fmt == "Native"
    await pipeline.start()
    await pipeline.submit("prj_1", [row(10 + i) for i in range(4)], ids_assigned=True)
    await pipeline.wait_flushed()
    await pipeline.stop()
    assert store.query(f"SELECT count(), uniqExact(id) FROM {store.table}") == [(7, 7)]
    # The old segment is gone once flushed; what is left is marked as Native.
    headers = {p.read_bytes()[:8] for p in (tmp_path / "wal").glob("seg-*.wal")}
    assert headers == {b"TYWAL002"}


async def test_native_records_replay_on_a_build_without_the_compiled_module(
    tmp_path: Path, stores: list[EntryStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = stores
    left = WriteAheadLog(tmp_path / "wal", fmt="Native")  # written before a rebuild without Cython
    left.open()
    left.write([encode([row(i)]) for i in range(5)])
    left.close()
    monkeypatch.setattr(pipeline_module, "COMPILED", False)
    monkeypatch.delattr(pipeline_module, "merge_native")  # as when the import was skipped
    pipeline = Pipeline(store, tmp_path / "wal", batch_seconds=0.01)
    assert pipeline.wal.fmt == "JSONEachRow"
    await pipeline.start()
    await pipeline.wait_flushed()
    await pipeline.stop()
    assert store.query(f"SELECT count(), uniqExact(id) FROM {store.table}") == [(5, 5)]


MIXED = EDGE_ROWS * 3 + [row(100 + i, tags=["x"] * (i % 3), step_index=i if i % 2 else None)
                         for i in range(300)]


@pytest.mark.parametrize("sizes", [[1] * 10, [3, 1, 7], [len(MIXED)], [5] * 20, [0, 2]])
def test_merged_blocks_equal_one_block_of_all_rows(sizes: list[int]) -> None:
    parts, start = [], 0
    for size in [*sizes, len(MIXED)]:
        parts.append(MIXED[start:start + size])
        start += size
    parts = [p for p in parts if p]
    merged = _fastmodel.merge_native([encode(p) for p in parts])
    assert merged == encode(MIXED)


def test_merge_refuses_blocks_it_cannot_join() -> None:
    one = encode([row(1)])
    other = _fastmodel.encode_native([row(2)], schema.NATIVE_COLUMNS[:-1])
    with pytest.raises(ValueError, match="different columns"):
        _fastmodel.merge_native([one, other])
    with pytest.raises(ValueError, match="more than one block"):
        _fastmodel.merge_native([one, one + one])
    with pytest.raises(ValueError, match="ends inside"):
        _fastmodel.merge_native([one, one[:-3]])


async def test_single_entry_records_reach_the_store_merged(tmp_path: Path,
                                                           stores: list[EntryStore]) -> None:
    store, _ = stores
    pipeline = Pipeline(store, tmp_path / "wal", batch_seconds=0.05)
    await pipeline.start()
    inserted: list[int] = []
    original = store.insert_rows

    def counting(data: Any, token: str, fmt: str = "JSONEachRow") -> None:
        blocks = list(data)
        inserted.extend(rows_in(block, fmt) for block in blocks)
        original(iter(blocks), token, fmt)

    store.insert_rows = counting  # type: ignore[method-assign]
    await asyncio.gather(
        *(pipeline.submit("prj_1", [row(i)], ids_assigned=True) for i in range(2000))
    )
    await pipeline.wait_flushed()
    await pipeline.stop()
    assert store.query(f"SELECT count(), uniqExact(id) FROM {store.table}") == [(2000, 2000)]
    assert sum(inserted) == 2000 and len(inserted) <= 3, inserted  # not 2000 one-row blocks
