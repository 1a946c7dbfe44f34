"""Chaos: ingest while the server is killed -9, stopped, and starved of descriptors.

Reports acknowledged vs stored entries (each entry carries a unique marker: 0 lost,
0 duplicated is the pass) and whether ingestion resumed by itself after each event.

    .venv/bin/python bench/chaos.py [--kills 5] [--workers 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import signal
import socket
import threading
import time
from typing import Any

import httpx

from harness import Served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nofile", type=int, default=256, help="the server's descriptor limit")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    def limit_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))

    served = Served(preexec=limit_descriptors, TIMBERYARD_BATCH_SECONDS="0.5",
                    TIMBERYARD_HEADER_TIMEOUT="5", TIMBERYARD_LOG_LEVEL="info")
    creds = served.init()
    served.start()
    auth = {"Authorization": f"Bearer {creds['key']}"}
    acked: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    statuses: collections.Counter[str] = collections.Counter()
    last_ack = [time.monotonic()]

    def sender(worker: int) -> None:
        n = 0
        with httpx.Client(base_url=served.url, headers=auth, timeout=5) as client:
            while not stop.is_set():
                batch = [f"chaos-w{worker}-b{n}-e{i}" for i in range(20)]
                n += 1
                try:
                    r = client.post("/v1/logs", json={"entries": [{"message": m} for m in batch]})
                    statuses[str(r.status_code)] += 1
                    if r.status_code == 200:
                        with lock:
                            acked.update(batch)
                            last_ack[0] = time.monotonic()
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    time.sleep(0.05)

    def resumed(event: str, since: float, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if last_ack[0] > since:
                return {"event": event, "resumed": True, "seconds": round(last_ack[0] - since, 1)}
            time.sleep(0.1)
        return {"event": event, "resumed": False, "seconds": None}

    threads = [threading.Thread(target=sender, args=(w,), daemon=True) for w in range(args.workers)]
    for thread in threads:
        thread.start()
    events: list[dict[str, Any]] = []
    time.sleep(2)
    for k in range(args.kills):
        time.sleep(rng.uniform(0.5, 3.0))
        served.kill9()
        at = time.monotonic()
        served.start()
        events.append(resumed(f"kill -9 #{k + 1}", at))
    # Once more during WAL replay: pile up unflushed rows behind a long batch window, then
    # kill the restarted server as soon as it answers, while it is still replaying.
    served.kill9()
    served.env["TIMBERYARD_BATCH_SECONDS"] = "30"
    served.start()
    time.sleep(2)
    served.kill9()
    served.env["TIMBERYARD_BATCH_SECONDS"] = "0.5"
    served.start()
    served.kill9()
    at = time.monotonic()
    served.start()
    events.append(resumed("kill -9 during WAL replay", at))
    # SIGSTOP for 3 s, then SIGCONT.
    served.signal(signal.SIGSTOP)
    time.sleep(3)
    at = time.monotonic()
    served.signal(signal.SIGCONT)
    events.append(resumed("SIGSTOP 3 s, SIGCONT", at))
    # Descriptor exhaustion: hold idle connections past the server's limit for 8 s.
    held = []
    for _ in range(args.nofile + 50):
        try:
            held.append(socket.create_connection(("127.0.0.1", served.port), timeout=2))
        except OSError:
            break
    time.sleep(8)
    for sock in held:
        sock.close()
    at = time.monotonic()
    events.append(resumed(f"{len(held)} idle connections for 8 s (RLIMIT_NOFILE {args.nofile})", at))
    health_during = httpx.get(f"{served.url}/health", timeout=10).json()
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join(10)
    # Everything acknowledged must be stored exactly once.
    served.stop()
    served.env["TIMBERYARD_BATCH_SECONDS"] = "0.5"
    served.start()
    stored: collections.Counter[str] = collections.Counter()
    with httpx.Client(base_url=served.url, headers=auth, timeout=60) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if client.get("/health").json()["ingest"]["queuedRows"] == 0:
                break
            time.sleep(0.5)
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 10000, "q": "chaos", "from": "-1d", "total": "false"}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/logs", params=params).json()
            stored.update(e["message"] for e in page["logs"])
            cursor = page.get("nextCursor")
            if not cursor or not page["logs"]:
                break
    served.stop()
    lost = len(acked - set(stored))
    duplicated = sum(1 for n in stored.values() if n > 1)
    log = served.log.read_text(errors="replace")
    print(f"acknowledged {len(acked)}, stored {len(stored)} distinct ({sum(stored.values())} rows), "
          f"lost {lost}, duplicated {duplicated}; requests: {dict(statuses)}")
    print("| event | ingestion resumed by itself | seconds to the next 200 |\n|---|---|---|")
    for event in events:
        print(f"| {event['event']} | {'yes' if event['resumed'] else 'NO'} | {event['seconds']} |")
    print(f"health after the descriptor episode: {health_during['status']}, "
          f"flushFailures {health_during['ingest'].get('flushFailures')}")
    print(f"server log: {log.count('Traceback')} tracebacks, "
          f"{log.count('Too many open files')} 'Too many open files' lines")
    return 0 if lost == 0 and duplicated == 0 and all(e["resumed"] for e in events) else 1


if __name__ == "__main__":
    raise SystemExit(main())
