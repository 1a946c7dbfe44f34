"""Live-tail delivery under load: wrk ingests 1000-entry batches as fast as the server takes
them (at least 50,000 entries/s is the target load) while a probe sends a marked entry
every 200 ms and times its arrival on a GET /v1/tail subscription.

    .venv/bin/python bench/tail.py [--duration 20] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from ingest import ADMIN, PY, Scenario, build_scenarios, free_port, run_wrk, wait_up  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="timberyard-tail-"))
    scenario: Scenario = build_scenarios(work, quick=True, connections=args.connections)[0]
    data = work / "data"
    creds = json.loads(subprocess.run([PY, "-m", "timberyard", "init", "--data", str(data), "--plan", "enterprise"],
                                      check=True, capture_output=True, text=True).stdout)
    port = free_port()
    env = {**os.environ, "TIMBERYARD_ADMIN_TOKEN": ADMIN, "TIMBERYARD_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([PY, "-m", "timberyard", "serve", "--data", str(data), "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {creds['key']}"}
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    stop = threading.Event()  # the listener
    stop_probe = threading.Event()

    def listen() -> None:
        with httpx.Client(timeout=None) as client, client.stream(
            "GET", f"{base}/v1/tail", params={"q": "tailprobe"}, headers=headers
        ) as stream:
            for line in stream.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("data:"):
                    entry = json.loads(line[5:])
                    # An event may arrive before the probe's POST returns: match up later.
                    arrived[entry["message"].split()[-1]] = time.perf_counter()

    def probe() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            i = 0
            while not stop_probe.is_set():
                marker = f"m{i}"
                start = time.perf_counter()
                r = client.post("/v1/logs", json={"message": f"tailprobe {marker}", "level": "info"})
                if r.status_code == 200:
                    sent[marker] = start  # from the moment it was sent, through ingestion, to the tail
                i += 1
                time.sleep(0.2)

    try:
        wait_up(f"{base}/health", proc)
        threading.Thread(target=listen, daemon=True).start()
        time.sleep(1)
        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        load = run_wrk(f"{base}/v1/logs", scenario, args.duration, creds["key"])
        stop_probe.set()
        prober.join(30)
        time.sleep(2)  # let the last probes arrive before counting what never did
        stop.set()
    finally:
        stop_probe.set()
        stop.set()
        proc.terminate()
        proc.wait(60)
    delays = [(arrived[m] - start) * 1000 for m, start in sent.items() if m in arrived]
    lost = len([m for m in sent if m not in arrived])
    if lost:
        print(f"not delivered: {sorted(m for m in sent if m not in arrived)}", file=sys.stderr)
    delays.sort()
    print(f"Machine: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; "
          f"{args.duration} s, wrk -t2 -c{args.connections} with 1000-entry batches plus one tail subscriber")
    print()
    print("| ingestion entries/s | probes delivered | p50 ms | p99 ms | max ms | not delivered |")
    print("|---|---|---|---|---|---|")
    p99 = delays[max(0, int(len(delays) * 0.99) - 1)] if delays else float("nan")
    print(f"| {load['entries_per_s']:,.0f} | {len(delays)} | {statistics.median(delays):.0f} | {p99:.0f} | "
          f"{delays[-1]:.0f} | {lost} |")


if __name__ == "__main__":
    main()
