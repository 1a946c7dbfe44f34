"""Query benchmark: load N generated entries (default 10 million) into embedded ClickHouse,
then time the read paths of GET /v1/logs and GET /v1/histogram as medians of repeated runs.

    .venv/bin/python bench/query.py [--rows 10000000] [--data DIR] [--repeat 15]
    .venv/bin/python bench/query.py --rows 1000000,10000000,100000000   # the cost curve

With several sizes, the store grows from one to the next (the same data folder) and every
query runs at each size; a last table puts the sizes side by side.

The queries run through the same code as the HTTP handlers (timberyard.search with the
query compiler), in-process, so HTTP overhead does not blur the figures. Loading reuses an
existing data folder when it already holds the rows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).parent))
from generator import Generator  # noqa: E402

from timberyard import query as ql  # noqa: E402
from timberyard import search  # noqa: E402
from timberyard.model import ERROR_SEVERITY  # noqa: E402
from timberyard.alerts.fingerprint import fingerprint  # noqa: E402
from timberyard.model import COMPILED, normalise  # noqa: E402
from timberyard.storage.entries import EntryStore  # noqa: E402

PROJECT = "prj_bench"
OTHERS = ["prj_other1", "prj_other2", "prj_other3"]
HOUR_NS = 3600 * 1_000_000_000


def _chunk(args: tuple[int, int, int, float]) -> bytes:
    """Generate and normalise rows [first, first + n) as one insert body (runs in a worker):
    a Native block with the compiled encoder (what the pipeline inserts), else JSON lines."""
    first, n, seed, end_s = args
    gen = Generator(seed=seed, start=end_s - 86400, span_seconds=86400)
    if COMPILED:
        from timberyard._fastmodel import encode_native
        from timberyard.storage.schema import NATIVE_COLUMNS

        def encode_lines(rows: list[dict[str, Any]]) -> bytes:
            return encode_native(rows, NATIVE_COLUMNS)
    else:
        encode_lines = msgspec.json.Encoder().encode_lines
    base_id = (int(end_s * 1000) << 20) + first
    batch = []
    for i in range(n):
        raw = gen.entry()
        raw["fields"]["service"] = raw["service"]
        index = first + i
        project = PROJECT if index % 10 else OTHERS[index // 10 % 3]
        row = normalise(raw, now_ns=0, base={"project_id": project, "received_ms": int(end_s * 1000)})
        if row["severity"] >= ERROR_SEVERITY:
            row["fingerprint"] = fingerprint(row.get("service"), None, row["message"])
        row["id"] = base_id + i
        batch.append(row)
    return encode_lines(batch)


def load(store: EntryStore, rows: int, end_s: float, chunk: int = 100_000) -> None:
    have = int(store.query(f"SELECT count() FROM {store.table}")[0][0])
    if have >= rows:
        print(f"store already holds {have:,} rows", flush=True)
        return
    started = time.monotonic()
    jobs = [(first, min(chunk, rows - first), first // chunk + 1, end_s) for first in range(have, rows, chunk)]
    done = have
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for (first, n, _, _), body in zip(jobs, pool.imap(_chunk, jobs)):
            store.insert_rows(body, f"bench-{first}", "Native" if COMPILED else "JSONEachRow")
            done += n
            rate = (done - have) / (time.monotonic() - started)
            print(f"\rloaded {done:,}/{rows:,} ({rate:,.0f} rows/s)", end="", flush=True)
    print(flush=True)
    print("merging parts…", flush=True)
    store.optimize()


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    fn()  # warm
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="10000000", help="rows to load; several sizes comma-separated")
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "timberyard-bench-query"))
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.rows.split(","))
    end_s = float(Path(args.data, "end").read_text()) if Path(args.data, "end").exists() else time.time()
    Path(args.data).mkdir(parents=True, exist_ok=True)
    Path(args.data, "end").write_text(str(end_s))
    store = EntryStore(f"chdb://{Path(args.data, 'clickhouse').resolve()}", "bench")
    store.open()
    curve: list[tuple[dict[str, int], list[tuple[str, float, float, int, Any]]]] = []
    for size in sizes:
        started = time.monotonic()
        load(store, size, end_s)
        print(f"loaded and merged in {time.monotonic() - started:,.0f} s", flush=True)
        stats = store.stats()
        print()
        print(f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"{time.strftime('%Y-%m-%d')}; {stats['rows']:,} rows ({stats['bytesOnDisk'] / 2**20:,.0f} MiB on "
              f"disk, {stats['parts']} parts), 90% in the measured project, spread over 24 h; median of "
              f"{args.repeat} runs")
        print()
        print("| query | median ms | target ms | rows returned | total |")
        print("|---|---|---|---|---|")
        results = run_cases(store, end_s, args.repeat)
        curve.append((stats, results))
    if len(curve) > 1:
        print()
        print("| query | " + " | ".join(f"{stats['rows']:,} rows" for stats, _ in curve) + " | target ms |")
        print("|---|" + "---|" * (len(curve) + 1))
        for i, (name, _, target, _, _) in enumerate(curve[0][1]):
            cells = []
            for _, results in curve:
                ms = results[i][1]
                cells.append(f"{ms:.1f}" + ("" if ms <= target else " (over)"))
            print(f"| {name} | " + " | ".join(cells) + f" | {target:.0f} |")
        print("| bytes on disk per row | " + " | ".join(
            f"{stats['bytesOnDisk'] / max(stats['rows'], 1):.1f}" for stats, _ in curve) + " | |")


def run_cases(store: EntryStore, end_s: float, repeat: int) -> list[tuple[str, float, float, int, Any]]:
    """Each query shape's median (printed as a table row as it is measured)."""
    end_ns = int(end_s * 1e9) + 1
    day = search.Filter(PROJECT, end_ns - 24 * HOUR_NS, end_ns)

    def with_q(q: str, **kw: Any) -> search.Filter:
        sql, params = ql.compile(ql.parse(q))
        return search.Filter(PROJECT, kw.get("from_ns"), kw.get("to_ns"), sql, params)

    middle = end_ns - 12 * HOUR_NS

    # A cursor 100,000 entries into the results, taken once.
    page = search.find(store, search.Filter(PROJECT), limit=10_000, with_total=False)
    for _ in range(9):
        page = search.find(store, search.Filter(PROJECT), limit=10_000, cursor=page["nextCursor"], with_total=False)
    deep_cursor = page["nextCursor"]

    def deep_page() -> Any:
        return search.find(store, search.Filter(PROJECT), limit=100, cursor=deep_cursor, with_total=False)

    cases: list[tuple[str, Any, float]] = [
        ("newest 200 of a project (tail page, no total)",
         lambda: search.find(store, search.Filter(PROJECT), limit=200, with_total=False), 30),
        ("newest 200 of a project with total",
         lambda: search.find(store, search.Filter(PROJECT), limit=200), 100),
        ("level:error in a 1-hour window, with total",
         lambda: search.find(store, with_q("level:error", from_ns=middle, to_ns=middle + HOUR_NS), limit=100), 100),
        ("keyword `refused` over everything, with total",
         lambda: search.find(store, with_q("refused"), limit=100), 100),
        ("fields.service:api AND level:error, with total",
         lambda: search.find(store, with_q("fields.service:api AND level:error"), limit=100), 100),
        ("fields.service:api AND level:error, 1-hour window, with total",
         lambda: search.find(store, with_q("fields.service:api AND level:error", from_ns=middle,
                                           to_ns=middle + HOUR_NS), limit=100), 100),
        ("fields.service:api AND level:error, newest page, no total",
         lambda: search.find(store, with_q("fields.service:api AND level:error"), limit=100,
                             with_total=False), 100),
        ("histogram of 24 h per minute by level",
         lambda: search.histogram(store, day, 60_000), 100),
        ("cursor page 100,000 entries deep",
         deep_page, 100),
        ("offset 100,000",
         lambda: search.find(store, search.Filter(PROJECT), limit=100, offset=100_000, with_total=False), 100),
    ]
    out = []
    for name, fn, target in cases:
        ms, result = timed(fn, repeat)
        if "buckets" in result:
            returned, total = len(result["buckets"]), result["total"]
        else:
            returned, total = len(result["logs"]), result.get("total")
        mark = "" if ms <= target else " (over)"
        print(f"| {name} | {ms:.1f}{mark} | {target:.0f} | {returned:,} | {total if total is not None else '–'} |",
              flush=True)
        out.append((name, ms, target, returned, total))
    return out


if __name__ == "__main__":
    main()
