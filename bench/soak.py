"""Soak: mixed ingestion, searches and live tails at about 80% of measured capacity.

Measures capacity first (batches of 100 entries as fast as --workers allow), then runs
at --load of it for --duration seconds; samples the server's RSS every 10 s with where
it goes (the store's tracked memory and caches, Python's allocated blocks, rows stored,
from /metrics) and prints tables for bench/RESULTS.md (RSS curve, p50/p99 per kind,
errors).

    .venv/bin/python bench/soak.py [--duration 600] [--rate REQ_PER_S] [--load 0.8]
"""

from __future__ import annotations

import argparse
import collections
import statistics
import threading
import time

import httpx

from prometheus_client.parser import text_string_to_metric_families

from harness import ADMIN, Served

BATCH = [{"message": f"soak entry {i} user=u{i % 17}", "level": ("info", "warn", "error")[i % 3],
          "fields": {"service": f"svc{i % 5}", "durationMs": i}} for i in range(100)]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def breakdown(url: str) -> dict[str, float]:
    """The memory figures of one scrape of /metrics (MiB, blocks, rows)."""
    try:
        text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30).text
    except httpx.HTTPError:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "timberyard_store_memory_bytes":
                out[s.labels["kind"]] = s.value / 2**20
            elif s.name == "timberyard_python_allocated_blocks":
                out["python_blocks"] = s.value
            elif s.name == "timberyard_store_flushed_rows_total":
                out["rows"] = s.value
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--rate", type=float, help="ingestion requests/s; default: --load x measured")
    parser.add_argument("--load", type=float, default=0.8)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--tails", type=int, default=2)
    args = parser.parse_args()
    served = Served(TIMBERYARD_BATCH_SECONDS="0.25")
    creds = served.init()
    served.start()
    auth = {"Authorization": f"Bearer {creds['key']}"}
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter[str] = collections.Counter()
    stop = threading.Event()

    def timed(kind: str, client: httpx.Client, method: str, path: str, **kw: object) -> None:
        started = time.monotonic()
        try:
            r = client.request(method, path, **kw)  # type: ignore[arg-type]
            if r.status_code >= 400:
                errors[f"{kind} {r.status_code}"] += 1
        except httpx.HTTPError as exc:
            errors[f"{kind} {type(exc).__name__}"] += 1
        latencies[kind].append((time.monotonic() - started) * 1000)

    # Capacity: as fast as the workers go, 10 s.
    rate = args.rate
    if rate is None:
        done = [0]
        until = time.monotonic() + 10

        def flat_out() -> None:
            with httpx.Client(base_url=served.url, headers=auth, timeout=30) as client:
                while time.monotonic() < until:
                    client.post("/v1/logs", json={"entries": BATCH})
                    done[0] += 1

        threads = [threading.Thread(target=flat_out) for _ in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        capacity = done[0] / 10
        rate = capacity * args.load
        print(f"capacity {capacity:.0f} req/s of 100 entries ({capacity * 100:.0f} entries/s, under load); "
              f"soaking at {rate:.0f} req/s")
    latencies.clear()

    def ingest(worker: int) -> None:
        interval = args.workers / rate
        next_at = time.monotonic() + worker * interval / args.workers
        with httpx.Client(base_url=served.url, headers=auth, timeout=30) as client:
            while not stop.is_set():
                timed("ingest", client, "POST", "/v1/logs", json={"entries": BATCH})
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    def search() -> None:
        queries = ["level:error", "fields.service:svc1 AND level:>=warn", "soak", "user=u3"]
        with httpx.Client(base_url=served.url, headers=auth, timeout=30) as client:
            n = 0
            while not stop.is_set():
                timed("search", client, "GET", "/v1/logs", params={"q": queries[n % 4], "from": "-5m", "limit": 50})
                if n % 5 == 0:
                    timed("histogram", client, "GET", "/v1/histogram", params={"from": "-15m"})
                n += 1
                time.sleep(1)

    tail_events = [0]

    def tail() -> None:
        while not stop.is_set():
            try:
                with httpx.stream("GET", f"{served.url}/v1/tail", params={"q": "level:error"}, headers=auth,
                                  timeout=httpx.Timeout(30, read=60)) as r:
                    for line in r.iter_lines():
                        if line.startswith("data:"):
                            tail_events[0] += 1
                        if stop.is_set():
                            return
            except httpx.HTTPError as exc:
                errors[f"tail {type(exc).__name__}"] += 1
                time.sleep(1)

    threads = [threading.Thread(target=ingest, args=(w,), daemon=True) for w in range(args.workers)]
    threads += [threading.Thread(target=search, daemon=True)]
    threads += [threading.Thread(target=tail, daemon=True) for _ in range(args.tails)]
    for t in threads:
        t.start()
    started = time.monotonic()
    samples: list[tuple[float, float, dict[str, float]]] = []
    while time.monotonic() - started < args.duration:
        samples.append((time.monotonic() - started, served.rss_mib(), {**served.memory_mib(), **breakdown(served.url)}))
        time.sleep(min(10, max(0.0, args.duration - (time.monotonic() - started))))
    samples.append((time.monotonic() - started, served.rss_mib(), {**served.memory_mib(), **breakdown(served.url)}))
    stop.set()
    for t in threads[: args.workers + 1]:
        t.join(30)
    served.stop()
    print("| t (s) | server RSS (MiB) | anonymous | file-backed | store tracked | mark cache |"
          " uncompressed cache | anonymous - store | Python blocks (k) | rows stored (M) |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
    nan = float("nan")
    for at, rss, b in samples:
        tracked = b.get("tracked", nan)
        print(f"| {at:.0f} | {rss:.0f} | {b.get('RssAnon', nan):.0f} | {b.get('RssFile', nan):.0f} | "
              f"{tracked:.0f} | {b.get('mark_cache', nan):.1f} | {b.get('uncompressed_cache', nan):.1f} | "
              f"{b.get('RssAnon', nan) - tracked:.0f} | "
              f"{b.get('python_blocks', 0) / 1000:.0f} | {b.get('rows', 0) / 1e6:.1f} |")
    print("| kind | requests | p50 ms | p99 ms |\n|---|---|---|---|")
    for kind, values in sorted(latencies.items()):
        print(f"| {kind} | {len(values)} | {statistics.median(values):.1f} | {percentile(values, 0.99):.1f} |")
    print(f"live tail events received: {tail_events[0]}; errors: {dict(errors) or 0}")
    warm = [rss for at, rss, _ in samples if at >= min(60, args.duration / 2)]
    if len(warm) >= 2:
        print(f"RSS after warm-up: {min(warm):.0f} to {max(warm):.0f} MiB")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
