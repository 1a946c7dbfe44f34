"""CPU cost of the live tail's listener: `python tests/tail/bench_fanout.py [subscribers]`.

Publishes 50,000 rows/s worth of canonical rows in batches of 1000 straight to
Broker.publish with N subscribers (different queries) and reports the CPU time
per published row; a consumer task drains the queues as the API would.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import time
from typing import Any

from timberyard.api.tail import row_event
from timberyard.model import normalise
from timberyard.query import parse
from timberyard.query.matcher import matcher
from timberyard.tail import Broker

QUERIES = [
    "level:>=error",
    "service:api",
    "timeout",
    '"connection refused"',
    "fields.status:>=500",
    "level:warn service:worker",
    "checkout* -level:debug",
    "fields.route:/api/orders*",
    "user_id:u-17 OR tag:billing",
    "NOT level:info AND host:web-3",
    "env:production error_name:TypeError",
    "fields.user.plan:pro",
]
WORDS = "request served in ms user checkout payment connection refused timeout cache miss".split()


def make_rows(count: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows = []
    for i in range(count):
        raw = {
            "level": rnd.choice(["debug", "info", "info", "info", "warn", "error"]),
            "message": " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 14)))
            + f" id={rnd.randint(0, 10**6)}",
            "service": rnd.choice(["api", "web", "worker", "cron"]),
            "env": rnd.choice(["production", "staging"]),
            "host": f"web-{rnd.randint(1, 8)}",
            "userId": f"u-{rnd.randint(1, 500)}",
            "tags": rnd.sample(["billing", "db", "auth", "edge"], rnd.randint(0, 2)),
            "fields": {
                "status": rnd.choice([200, 200, 201, 404, 500, 503]),
                "route": rnd.choice(["/api/orders", "/api/users/7", "/health"]),
                "durationMs": rnd.randint(1, 5000),
                "user": {"plan": rnd.choice(["free", "pro"])},
            },
        }
        row = normalise(raw, now_ns=time.time_ns(), base={"project_id": "p", "received_ms": 1})
        row["id"] = i + 1
        rows.append(row)
    return rows


async def run(
    subscribers: int, batches: int = 100, batch: int = 1000, deliver: bool = False
) -> dict[str, float]:
    """Publish `batches` batches; the CPU time of publish (and of taking the matches).

    With `deliver`, also the CPU time of rendering every match as its SSE event.
    """
    rows = make_rows(batch * 10)
    broker = Broker(queue_rows=10**9)
    for i in range(subscribers):
        broker.subscribe("p", matcher(parse(QUERIES[i % len(QUERIES)])))
    subs = broker._subscribers.get("p", [])
    # Fresh dicts with increasing ids, built before the clock starts.
    prepared = []
    for n in range(batches):
        base = n * batch
        fresh = [{**rows[(base + j) % len(rows)], "id": base + j + 1} for j in range(batch)]
        prepared.append(fresh)
    delivered = 0
    gc.collect()
    gc.disable()  # a collection of the prepared rows is not the listener's cost
    try:
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        for fresh in prepared:
            broker.publish("p", fresh)
            for sub in subs:
                for got in sub.take():
                    delivered += len(got)
                    if deliver:
                        for row in got:
                            broker.rendered(row, row_event)
        cpu = time.process_time() - start_cpu
        wall = time.perf_counter() - start_wall
    finally:
        gc.enable()
    total = batches * batch
    return {
        "subscribers": subscribers,
        "deliver": deliver,
        "rows": total,
        "cpu_us_per_row": round(cpu / total * 1e6, 3),
        "core_share_at_50k_rows_per_s": round(cpu / total * 50_000, 3),
        "matches_per_row": round(delivered / total, 3),
        "wall_s": round(wall, 3),
    }


if __name__ == "__main__":
    counts = [int(a) for a in sys.argv[1:]] or [0, 1, 10]
    for deliver in (False, True):
        for count in counts:
            runs = [asyncio.run(run(count, deliver=deliver)) for _ in range(5)]
            print(min(runs, key=lambda r: r["cpu_us_per_row"]))
