"""Ingestion benchmark: wrk against a real `timberyard serve` and against a plain
decode-and-append endpoint (the ceiling), measured in the same run.

    .venv/bin/python bench/ingest.py [--duration 20] [--connections 32] [--quick]
    .venv/bin/python bench/ingest.py --only-syslog --duration 5   # the syslog TCP scenario alone
    .venv/bin/python bench/ingest.py --compare otlp,_bulk --rounds 3  # ratios to JSON batches
    .venv/bin/python bench/ingest.py --compare , --baseline /tmp/old/src  # JSON batches, before/after

Prints a Markdown table for bench/RESULTS.md. Needs `wrk` (Debian package). The syslog
TCP scenario sends octet-counted RFC 5424 frames over a few connections to
`serve --syslog-port` as fast as TCP back-pressure lets them, and counts the entries
stored (the listener's counters in /health).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).parent))
from generator import Generator  # noqa: E402

HERE = Path(__file__).parent
PY = sys.executable
ADMIN = "adm_bench_token_0123456789abcdef"
SEP = b"\x1e"


@dataclass
class Scenario:
    name: str
    bodies: Path
    content_type: str
    entries_per_request: int
    raw_bytes_per_entry: float
    connections: int
    framing: str = "separator"  # "length" for binary bodies (see post.lua)
    path: str = "/v1/logs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_bodies(path: Path, bodies: list[bytes]) -> None:
    path.write_bytes(SEP.join(bodies))


def write_binary_bodies(path: Path, bodies: list[bytes]) -> None:
    """Bodies that may hold any byte, each after its length in 10 decimal digits."""
    path.write_bytes(b"".join(b"%010d" % len(body) + body for body in bodies))


SEVERITY_NUMBER = {"trace": 1, "debug": 5, "info": 9, "success": 10, "warn": 13, "error": 17, "fatal": 21}


def otlp_body(entries: list[dict[str, Any]]) -> bytes:
    """One OTLP ExportLogsServiceRequest (protobuf) with the entries, a resource per service."""
    from datetime import datetime

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    scopes: dict[tuple[str, str], Any] = {}
    for e in entries:
        group = (e["service"], e["environment"])
        if group not in scopes:
            rl = request.resource_logs.add()
            for key, value in (("service.name", group[0]), ("deployment.environment.name", group[1])):
                kv = rl.resource.attributes.add()
                kv.key, kv.value.string_value = key, value
            scopes[group] = rl.scope_logs.add()
            scopes[group].scope.name = "bench"
        record = scopes[group].log_records.add()
        ts = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        record.time_unix_nano = int(ts.timestamp() * 1000) * 1_000_000
        record.severity_number = SEVERITY_NUMBER[e["level"]]
        record.body.string_value = e["message"]
        attributes = {**e["fields"], **{k: e[k] for k in ("requestId", "sessionId") if k in e}}
        for key, value in attributes.items():
            kv = record.attributes.add()
            kv.key = key
            if isinstance(value, int):
                kv.value.int_value = value
            else:
                kv.value.string_value = str(value)
    return request.SerializeToString()


def loki_body(entries: list[dict[str, Any]]) -> bytes:
    """A snappy protobuf push of a batch, one stream per (service, environment, level), as Promtail sends."""
    from timberyard.formats.loki import encode_protobuf
    from timberyard.model import parse_time

    streams: dict[str, list[tuple[int, str, dict[str, str]]]] = {}
    for e in entries:
        labels = f'{{service_name="{e["service"]}", env="{e["environment"]}", level="{e["level"]}"}}'
        streams.setdefault(labels, []).append((parse_time(e["timestamp"]), e["message"], {}))
    return encode_protobuf(list(streams.items()))


def bulk_body(entries: list[dict[str, Any]]) -> bytes:
    """An Elasticsearch bulk body of a batch: ECS documents, as Filebeat or Vector send them."""
    action = b'{"create":{"_index":"bench-logs"}}'
    lines = []
    for e in entries:
        doc = {"@timestamp": e["timestamp"], "message": e["message"], "log.level": e["level"],
               "service.name": e["service"], "service.environment": e["environment"], **e["fields"]}
        lines += [action, msgspec.json.encode(doc)]
    return b"\n".join(lines) + b"\n"


def syslog_line(e: dict[str, Any]) -> str:
    sev = {"trace": 7, "debug": 7, "info": 6, "success": 5, "warn": 4, "error": 3, "fatal": 2}[e["level"]]
    return f"<{16 * 8 + sev}>1 {e['timestamp']} host-{len(e['service'])} {e['service']} 1234 - - {e['message']}"


def text_line(e: dict[str, Any]) -> str:
    ts = e["timestamp"].replace("T", " ")[:19]
    return f"{ts} {e['level'].upper()} {e['message']}"


def csv_body(entries: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "level", "message", "source", "environment", "route", "durationMs"])
    for e in entries:
        writer.writerow([e["timestamp"], e["level"], e["message"], e["service"], e["environment"],
                         e["fields"]["route"], e["fields"]["durationMs"]])
    return out.getvalue()


def build_scenarios(work: Path, quick: bool, connections: int) -> list[Scenario]:
    gen = Generator(seed=7)
    encode = msgspec.json.encode
    n_batches = 8 if quick else 40
    batches = [gen.batch(1000) for _ in range(n_batches)]
    raw_entry_bytes = sum(len(encode(e)) for b in batches for e in b) / (1000 * n_batches)
    singles = [gen.entry() for _ in range(2000 if quick else 10000)]
    raw_single = sum(len(encode(e)) for e in singles) / len(singles)

    write_bodies(work / "batch.bin", [encode({"logs": b}) for b in batches])
    write_bodies(work / "single.bin", [encode(e) for e in singles])
    write_bodies(work / "syslog.bin", ["\n".join(syslog_line(e) for e in b).encode() for b in batches])
    write_bodies(work / "text.bin", ["\n".join(text_line(e) for e in b).encode() for b in batches])
    write_bodies(work / "csv.bin", [csv_body(b).encode() for b in batches])
    write_binary_bodies(work / "otlp.bin", [otlp_body(b) for b in batches])
    write_binary_bodies(work / "loki.bin", [loki_body(b) for b in batches])
    write_bodies(work / "bulk.bin", [bulk_body(b) for b in batches])
    return [
        Scenario("json, 1000-entry batches", work / "batch.bin", "application/json", 1000, raw_entry_bytes, connections),
        Scenario("json, single entries", work / "single.bin", "application/json", 1, raw_single, connections * 2),
        Scenario("otlp protobuf, 1000 records", work / "otlp.bin", "application/x-protobuf", 1000,
                 raw_entry_bytes, connections, framing="length"),
        Scenario("syslog, 1000 lines", work / "syslog.bin", "application/x-syslog", 1000, raw_entry_bytes, connections),
        Scenario("text, 1000 lines", work / "text.bin", "text/plain", 1000, raw_entry_bytes, connections),
        Scenario("csv, 1000 rows", work / "csv.bin", "text/csv", 1000, raw_entry_bytes, connections),
        Scenario("loki protobuf, 1000 entries", work / "loki.bin", "application/x-protobuf", 1000, raw_entry_bytes,
                 connections, framing="length", path="/loki/api/v1/push"),
        Scenario("elasticsearch _bulk, 1000 docs", work / "bulk.bin", "application/x-ndjson", 1000, raw_entry_bytes,
                 connections, path="/_bulk"),
    ]


def process_tree(pid: int) -> list[int]:
    """The pid and its children (the workers of `serve --workers`)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(int(c) for c in children)]


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU seconds a process has used (its threads included), or one thread."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler(threading.Thread):
    """Peak resident memory of a process and its children together, sampled every 200 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            total = 0
            for pid in process_tree(self.pid):
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                except OSError:
                    if pid == self.pid:
                        return
            self.peak_kb = max(self.peak_kb, total)
            time.sleep(0.2)


class VisibilityProbe(threading.Thread):
    """Under the load, posts a marked entry, then polls the search API until it is found:
    the time from the 200 to the first search that returns it (SPEC §2.1: within 1 s)."""

    def __init__(self, base: str, key: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.headers = {"Authorization": f"Bearer {key}"}
        self.delays_ms: list[float] = []
        self.missing = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                marker = f"visprobe{i}x{os.getpid()}"
                i += 1
                r = client.post("/v1/logs", json={"message": f"probe {marker}", "level": "info"})
                if r.status_code != 200:
                    time.sleep(0.2)
                    continue
                acked = time.perf_counter()
                found = False
                while time.perf_counter() - acked < 10:
                    page = client.get("/v1/logs", params={"q": marker, "limit": 1, "total": "false"})
                    if page.status_code == 200 and page.json()["logs"]:
                        found = True
                        break
                    time.sleep(0.05)
                if found:
                    self.delays_ms.append((time.perf_counter() - acked) * 1000)
                else:
                    self.missing += 1
                time.sleep(0.2)

    def summary(self) -> dict[str, Any]:
        d = sorted(self.delays_ms)
        if not d:
            return {"probes": 0, "missing": self.missing}
        return {"probes": len(d), "missing": self.missing, "p50_ms": statistics.median(d),
                "p99_ms": d[max(0, int(len(d) * 0.99) - 1)], "max_ms": d[-1]}


def run_wrk(url: str, scenario: Scenario, duration: int, key: str) -> dict[str, Any]:
    env = {**os.environ, "BENCH_KEY": key, "BENCH_CTYPE": scenario.content_type,
           "BENCH_FRAMING": scenario.framing, "BENCH_PATH": scenario.path}
    out = subprocess.run(
        ["wrk", "-t2", f"-c{scenario.connections}", f"-d{duration}s", "--timeout", "10s",
         "-s", str(HERE / "post.lua"), url, "--", str(scenario.bodies)],
        capture_output=True, text=True, env=env, check=True,
    )
    line = next(l for l in out.stdout.splitlines() if l.startswith("WRKJSON "))
    result = json.loads(line[len("WRKJSON "):])
    seconds = result["duration_us"] / 1e6
    ok = result["requests"] - result["status_errors"]
    result["requests_per_s"] = result["requests"] / seconds
    result["entries_per_s"] = ok * scenario.entries_per_request / seconds
    return result


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def bench_ceiling(work: Path, scenarios: list[Scenario], duration: int) -> dict[str, dict[str, Any]]:
    port = free_port()
    env = {**os.environ, "CEILING_FILE": str(work / "ceiling.jsonl"), "PYTHONPATH": str(HERE)}
    proc = subprocess.Popen([PY, "-m", "uvicorn", "ceiling:app", "--port", str(port), "--log-level", "warning",
                             "--no-access-log"], env=env, cwd=HERE)
    results = {}
    try:
        wait_up(f"http://127.0.0.1:{port}/", proc)
        for s in scenarios[:2]:
            results[s.name] = run_wrk(f"http://127.0.0.1:{port}/v1/logs", s, duration, "none")
    finally:
        proc.terminate()
        proc.wait(30)
    return results


def bench_limits(work: Path, scenario: Scenario, duration: int, rounds: int = 2) -> dict[str, list[float]]:
    """Batch ingestion of a pro organisation with quotas and rate limits checked, against
    the same server with TIMBERYARD_ENFORCE_LIMITS=false, alternated."""
    out: dict[str, list[float]] = {"checked": [], "unchecked": []}
    for i in range(rounds):
        for mode in ("checked", "unchecked"):
            data = work / f"limits-{mode}-{i}"
            creds = json.loads(subprocess.run(
                [PY, "-m", "timberyard", "init", "--data", str(data), "--plan", "pro"],
                check=True, capture_output=True, text=True).stdout)
            port = free_port()
            env = {**os.environ, "TIMBERYARD_ADMIN_TOKEN": ADMIN, "TIMBERYARD_LOG_LEVEL": "warning",
                   "TIMBERYARD_ENFORCE_LIMITS": "true" if mode == "checked" else "false"}
            proc = subprocess.Popen([PY, "-m", "timberyard", "serve", "--data", str(data), "--port", str(port)],
                                    env=env)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_up(f"{base}/health", proc)
                # A quota and rate limit so large that every request is checked and counted, none refused.
                httpx.patch(f"{base}/v1/admin/organisations/{creds['organisation']}",
                            json={"monthlyQuota": 10**12, "rateLimitPerMinute": 10**8},
                            headers={"Authorization": f"Bearer {ADMIN}"}).raise_for_status()
                r = run_wrk(f"{base}/v1/logs", scenario, duration, creds["key"])
                out[mode].append(r["entries_per_s"])
                print(f"  limits {mode}: {r['entries_per_s']:,.0f} entries/s (non-2xx {r['status_errors']})",
                      flush=True)
            finally:
                proc.terminate()
                proc.wait(120)
    return out


def bench_timberyard(work: Path, scenarios: list[Scenario], duration: int, sustained: int) -> dict[str, Any]:
    """The JSON-batch scenario (the first) on a fresh server of its own for `sustained` seconds,
    with the search-visibility probe; the other scenarios share a second server."""
    batch = bench_server(work / "data-batch", scenarios[:1], sustained, probe=True)
    rest = bench_server(work / "data-rest", scenarios[1:], duration)
    return {
        "scenarios": {**batch["scenarios"], **rest["scenarios"]},
        "peak_rss_mb": max(batch["peak_rss_mb"], rest["peak_rss_mb"]),
        # the stored size of the sustained batch load
        "storage": batch["storage"],
        "raw_json_bytes": batch["raw_json_bytes"],
    }


def bench_server(data: Path, scenarios: list[Scenario], duration: int, probe: bool = False,
                 pythonpath: str | None = None, workers: int = 0) -> dict[str, Any]:
    """The scenarios in turn on one fresh server (of the build at `pythonpath`, else this one;
    `serve --workers N` when `workers`). Each scenario's result has the CPU seconds per
    1000 entries of the owner process (`cpu_owner_ms`) and of the workers (`cpu_workers_ms`)."""
    extra = {"PYTHONPATH": pythonpath} if pythonpath else {}
    creds = json.loads(subprocess.run([PY, "-m", "timberyard", "init", "--data", str(data), "--plan", "enterprise"],
                                      check=True, capture_output=True, text=True,
                                      env={**os.environ, **extra}).stdout)
    port = free_port()
    env = {**os.environ, "TIMBERYARD_ADMIN_TOKEN": ADMIN, "TIMBERYARD_LOG_LEVEL": "warning", **extra}
    command = [PY, "-m", "timberyard", "serve", "--data", str(data), "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    proc = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"scenarios": {}}
    sampler = RssSampler(proc.pid)
    try:
        wait_up(f"{base}/health", proc)
        sampler.start()
        raw_bytes = 0.0
        for s in scenarios:
            before = httpx.get(f"{base}/v1/admin/stats", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120).json()
            prober = VisibilityProbe(base, creds["key"]) if probe else None
            if prober:
                prober.start()
            tree = process_tree(proc.pid)
            cpu_before = [cpu_seconds(pid) for pid in tree]
            loop_before = cpu_seconds(proc.pid, proc.pid)
            r = run_wrk(f"{base}{s.path}", s, duration, creds["key"])
            cpu = [cpu_seconds(pid) - was for pid, was in zip(tree, cpu_before, strict=True)]
            accepted_entries = max(1, (r["requests"] - r["status_errors"]) * s.entries_per_request)
            r["cpu_owner_ms"] = cpu[0] * 1e6 / accepted_entries
            # The owner's main thread: its Python event loop (with workers: calls and relay).
            r["cpu_owner_loop_ms"] = (cpu_seconds(proc.pid, proc.pid) - loop_before) * 1e6 / accepted_entries
            r["cpu_workers_ms"] = sum(cpu[1:]) * 1e6 / accepted_entries
            if prober:
                prober.stop.set()
                prober.join(30)
                r["visibility"] = prober.summary()
                print(f"  searchable after the 200 (under this load): {r['visibility']}", flush=True)
            stats = httpx.get(f"{base}/v1/admin/stats?optimize=false", headers={"Authorization": f"Bearer {ADMIN}"},
                              timeout=120).json()
            r["rss_mb"] = sampler.peak_kb / 1024
            r["inserts"] = insert_stats(base)
            results["scenarios"][s.name] = r
            accepted = (r["requests"] - r["status_errors"]) * s.entries_per_request
            raw_bytes += accepted * s.raw_bytes_per_entry
            print(f"  {s.name}: {r['entries_per_s']:,.0f} entries/s, {r['requests_per_s']:,.0f} req/s, "
                  f"p50 {r['p50_us'] / 1000:.1f} ms, p99 {r['p99_us'] / 1000:.1f} ms, errors {r['status_errors']}, "
                  f"rss {r['rss_mb']:.0f} MB (queued {stats['ingest']['queuedRows']}, "
                  f"rows before {before['storage']['rows']}; inserts so far: {r['inserts']})", flush=True)
        final = httpx.get(f"{base}/v1/admin/stats?optimize=true", headers={"Authorization": f"Bearer {ADMIN}"},
                          timeout=600).json()
        results["storage"] = final["storage"]
        results["raw_json_bytes"] = raw_bytes
        results["peak_rss_mb"] = sampler.peak_kb / 1024
    finally:
        sampler.stop.set()
        proc.terminate()
        proc.wait(120)
    return results


def insert_stats(base: str) -> str:
    """The store inserts so far, from /metrics: how many, mean rows and mean seconds each."""
    r = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
    if r.status_code != 200:
        return "not reported by this build"
    text = r.text
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("timberyard_store_insert_duration_seconds_count",
                    "timberyard_store_insert_duration_seconds_sum", "timberyard_store_flushed_rows_total"):
            values[name] = float(value)
    count = values.get("timberyard_store_insert_duration_seconds_count", 0)
    if not count:
        return "none"
    rows = values.get("timberyard_store_flushed_rows_total", 0) / count
    seconds = values.get("timberyard_store_insert_duration_seconds_sum", 0) / count
    return f"{count:.0f} of {rows:,.0f} rows in {seconds * 1000:.0f} ms on average"


def syslog_frames(quick: bool) -> list[bytes]:
    """Chunks of octet-counted RFC 5424 frames (1000 per chunk) from the generator's entries."""
    gen = Generator(seed=11)
    chunks = []
    for _ in range(8 if quick else 40):
        frames = []
        for e in gen.batch(1000):
            line = syslog_line(e).encode()
            frames.append(b"%d %s\n" % (len(line) + 1, line))
        chunks.append(b"".join(frames))
    return chunks


def bench_syslog_tcp(data: Path, chunks: list[bytes], duration: int, connections: int = 4) -> dict[str, Any]:
    """Entries/s stored from `connections` TCP senders of octet-counted frames for `duration` s."""
    creds = json.loads(subprocess.run([PY, "-m", "timberyard", "init", "--data", str(data), "--plan", "enterprise"],
                                      check=True, capture_output=True, text=True).stdout)
    port, syslog_port = free_port(), free_port()
    env = {**os.environ, "TIMBERYARD_ADMIN_TOKEN": ADMIN, "TIMBERYARD_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([PY, "-m", "timberyard", "serve", "--data", str(data), "--port", str(port),
                             "--syslog-port", str(syslog_port), "--syslog-project", creds["project"]], env=env)
    base = f"http://127.0.0.1:{port}"
    sent = [0] * connections
    stop = threading.Event()

    def sender(index: int) -> None:
        with socket.create_connection(("127.0.0.1", syslog_port)) as sock:
            n = index
            while not stop.is_set():
                sock.sendall(chunks[n % len(chunks)])  # blocks while the server applies back-pressure
                sent[index] += 1000
                n += 1

    try:
        wait_up(f"{base}/health", proc)
        before = httpx.get(f"{base}/health", timeout=30).json()["syslog"]["entries"]
        threads = [threading.Thread(target=sender, args=(i,), daemon=True) for i in range(connections)]
        started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(duration)
        stop.set()
        for t in threads:
            t.join(30)
        # Count what the server stored from what was sent (the last chunks may still be in flight).
        deadline = time.monotonic() + 30
        while True:
            stats = httpx.get(f"{base}/health", timeout=30).json()["syslog"]
            if stats["entries"] - before >= sum(sent) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - started
        stored = stats["entries"] - before
        return {"entries_per_s": stored / seconds, "requests_per_s": 0.0, "p50_us": float("nan"),
                "p99_us": float("nan"), "status_errors": stats["malformed"] + stats["dropped"] + stats["rejected"],
                "sent": sum(sent), "stored": stored, "connections": connections}
    finally:
        proc.terminate()
        proc.wait(120)


def compare(names: list[str], rounds: int, duration: int, connections: int, probe: bool = False,
            baseline: str | None = None) -> None:
    """Each chosen scenario against JSON batches on one server, alternated for `rounds`
    rounds: the median share of JSON batches is the figure (absolute rates drift here).
    With `probe`, each scenario also measures how soon an entry is searchable under it.
    With `baseline` (the `src` folder of another build, e.g. a git worktree), each round
    also runs JSON batches on a server of that build, for a before/after in one run."""
    work = Path(tempfile.mkdtemp(prefix="timberyard-bench-"))
    scenarios = build_scenarios(work, False, connections)
    chosen = [scenarios[0]] + [s for s in scenarios[1:] if any(n in s.name for n in names)]
    runs: dict[str, list[float]] = {s.name: [] for s in chosen}
    ratios: dict[str, list[float]] = {s.name: [] for s in chosen[1:]}
    before: list[float] = []
    for round_ in range(rounds):
        if baseline:
            base = bench_server(work / f"data-baseline-{round_}", chosen[:1], duration, probe=probe,
                                pythonpath=baseline)
            before.append(base["scenarios"][chosen[0].name]["entries_per_s"])
        result = bench_server(work / f"data-compare-{round_}", chosen, duration, probe=probe)
        json_rate = result["scenarios"][chosen[0].name]["entries_per_s"]
        runs[chosen[0].name].append(json_rate)
        for s in chosen[1:]:
            rate = result["scenarios"][s.name]["entries_per_s"]
            runs[s.name].append(rate)
            ratios[s.name].append(rate / json_rate)
    print()
    print(f"{rounds} rounds of {duration} s per scenario, one fresh server per round, {time.strftime('%Y-%m-%d %H:%M')}")
    print("| scenario | entries/s (median) | share of JSON batches (median, min-max) |")
    print("|---|---|---|")
    print(f"| {chosen[0].name} | {statistics.median(runs[chosen[0].name]):,.0f} | 100% |")
    if before:
        shares = [b / a for a, b in zip(runs[chosen[0].name], before, strict=True)]
        print(f"| {chosen[0].name}, baseline build ({baseline}) | {statistics.median(before):,.0f} | "
              f"{statistics.median(shares):.0%} ({min(shares):.0%}-{max(shares):.0%}) |")
    for s in chosen[1:]:
        r = ratios[s.name]
        print(f"| {s.name} | {statistics.median(runs[s.name]):,.0f} | {statistics.median(r):.0%} "
              f"({min(r):.0%}-{max(r):.0%}) |")


def workers_curve(counts: list[int], rounds: int, duration: int, connections: int,
                  probe: bool = False) -> None:
    """JSON batches and single entries (each on a fresh server) on `serve` and on
    `serve --workers N` for each N, alternated for `rounds` rounds, with the CPU each
    process spent per 1000 entries
    (and with `probe`, how soon an entry is searchable under each load)."""
    work = Path(tempfile.mkdtemp(prefix="timberyard-bench-"))
    scenarios = build_scenarios(work, False, connections)[:2]
    runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for round_ in range(rounds):
        for n in counts:
            for i, s in enumerate(scenarios):  # each on a fresh server, as in the full run
                result = bench_server(work / f"data-workers-{n}-{round_}-{i}", [s], duration, probe=probe,
                                      workers=n)
                r = result["scenarios"][s.name]
                r["peak_rss_mb"] = result["peak_rss_mb"]
                runs.setdefault((n, s.name), []).append(r)
    print()
    print(f"{rounds} rounds of {duration} s per scenario, a fresh server per scenario, round and worker count, "
          f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}")
    print("| scenario | workers | entries/s (median) | vs one process | CPU ms per 1000 entries:"
          " owner (its event loop) / workers | peak RSS MiB (all processes) |")
    print("|---|---|---|---|---|---|")
    for s in scenarios:
        single = statistics.median(r["entries_per_s"] for r in runs[(counts[0], s.name)])
        for n in counts:
            rs = runs[(n, s.name)]
            rate = statistics.median(r["entries_per_s"] for r in rs)
            owner = statistics.median(r["cpu_owner_ms"] for r in rs)
            loop = statistics.median(r["cpu_owner_loop_ms"] for r in rs)
            workers = statistics.median(r["cpu_workers_ms"] for r in rs)
            rss = max(r["peak_rss_mb"] for r in rs)
            print(f"| {s.name} | {n or 'none (one process)'} | {rate:,.0f} | {rate / single:.0%} | "
                  f"{owner:.1f} ({loop:.1f}) / {workers:.1f} | {rss:.0f} |")
    if probe:
        print()
        print("Searchable after the 200 under each load (medians of the rounds' p50 and p99; the max of all):")
        print("| scenario | workers | probes | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|---|")
        for s in scenarios:
            for n in counts:
                vs = [r["visibility"] for r in runs[(n, s.name)] if r.get("visibility", {}).get("probes")]
                if vs:
                    print(f"| {s.name} | {n or 'none'} | {sum(v['probes'] for v in vs)} | "
                          f"{statistics.median(v['p50_ms'] for v in vs):.0f} | "
                          f"{statistics.median(v['p99_ms'] for v in vs):.0f} | {max(v['max_ms'] for v in vs):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--sustained", type=int, default=60,
                        help="seconds of the 1000-entry JSON batch scenario (on a fresh server)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--quick", action="store_true", help="smaller corpus and 5 s runs")
    parser.add_argument("--only-syslog", action="store_true", help="run the syslog TCP scenario alone")
    parser.add_argument("--compare", metavar="NAMES",
                        help="comma-separated parts of scenario names: run them and JSON batches in"
                             " alternation on one server and print each one's share of JSON batches")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --compare")
    parser.add_argument("--baseline", metavar="SRC",
                        help="with --compare: also run JSON batches on the build whose src folder this is")
    parser.add_argument("--probe", action="store_true",
                        help="with --compare or --workers-curve: also measure how soon an entry is searchable"
                             " under each load")
    parser.add_argument("--workers-curve", metavar="COUNTS",
                        help="comma-separated worker counts (0: one process), e.g. 0,1,2: JSON batches"
                             " and single entries on each, alternated for --rounds rounds")
    args = parser.parse_args()
    if args.workers_curve:
        workers_curve([int(n) for n in args.workers_curve.split(",")], args.rounds,
                      5 if args.quick else args.duration, args.connections, args.probe)
        return
    if args.compare:
        compare([n for n in args.compare.split(",") if n], args.rounds, 5 if args.quick else args.duration,
                args.connections, args.probe, args.baseline)
        return
    if args.only_syslog:
        work = Path(tempfile.mkdtemp(prefix="timberyard-bench-"))
        r = bench_syslog_tcp(work / "data-syslog", syslog_frames(True), args.duration)
        print(f"syslog TCP, octet-counted frames ({r['connections']} connections): "
              f"{r['entries_per_s']:,.0f} entries/s ({r['stored']:,} of {r['sent']:,} sent stored, "
              f"{r['status_errors']} malformed/dropped/rejected)", flush=True)
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    duration = 5 if args.quick else args.duration
    work = Path(tempfile.mkdtemp(prefix="timberyard-bench-"))
    print(f"corpus in {work}", flush=True)
    scenarios = build_scenarios(work, args.quick, args.connections)
    print("ceiling (decode JSON + append to a file):", flush=True)
    ceiling = bench_ceiling(work, scenarios, duration)
    for name, r in ceiling.items():
        print(f"  {name}: {r['entries_per_s']:,.0f} entries/s, {r['requests_per_s']:,.0f} req/s", flush=True)
    print("timberyard serve:", flush=True)
    sustained = 5 if args.quick else args.sustained
    ty = bench_timberyard(work, scenarios, duration, sustained)
    r = bench_syslog_tcp(work / "data-syslog", syslog_frames(args.quick), duration)
    print(f"  syslog TCP: {r['entries_per_s']:,.0f} entries/s ({r['stored']:,} stored)", flush=True)
    ty["scenarios"][f"syslog TCP, octet-counted frames ({r['connections']} connections)"] = r
    storage = ty["storage"]
    ratio = storage["bytesOnDisk"] / ty["raw_json_bytes"] if ty["raw_json_bytes"] else float("nan")

    print()
    print(f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; {duration} s per scenario ({sustained} s for the JSON batch "
          f"scenario, on a fresh server), wrk -t2, {args.connections} connections "
          f"({args.connections * 2} for single entries)")
    print()
    print("| scenario | Timberyard entries/s | req/s | p50 ms | p99 ms | non-2xx | ceiling entries/s |")
    print("|---|---|---|---|---|---|---|")
    for name, r in ty["scenarios"].items():
        c = ceiling.get(name)
        print(f"| {name} | {r['entries_per_s']:,.0f} | {r['requests_per_s']:,.0f} | {r['p50_us'] / 1000:.1f} | "
              f"{r['p99_us'] / 1000:.1f} | {r['status_errors']} | {c['entries_per_s']:,.0f} |" if c else
              f"| {name} | {r['entries_per_s']:,.0f} | {r['requests_per_s']:,.0f} | {r['p50_us'] / 1000:.1f} | "
              f"{r['p99_us'] / 1000:.1f} | {r['status_errors']} | – |")
    print()
    print("Searchable after the 200, under the load (a marked entry posted, then searched for every 50 ms):")
    print("| scenario | probes | p50 ms | p99 ms | max ms | never found |")
    print("|---|---|---|---|---|---|")
    for name, r in ty["scenarios"].items():
        v = r.get("visibility")
        if v and v.get("probes"):
            print(f"| {name} | {v['probes']} | {v['p50_ms']:.0f} | {v['p99_ms']:.0f} | {v['max_ms']:.0f} | "
                  f"{v['missing']} |")
    print()
    print(f"Peak server RSS: {ty['peak_rss_mb']:.0f} MiB. Stored (the sustained batch load): {storage['rows']:,} rows, "
          f"{storage['bytesOnDisk']:,} bytes on disk after merge for {ty['raw_json_bytes']:,.0f} raw JSON bytes "
          f"= {ratio:.3f} bytes per raw JSON byte.")
    print()
    print("Quota and rate-limit checks (pro plan, every request checked and counted):", flush=True)
    limits = bench_limits(work, scenarios[0], duration)
    checked, unchecked = statistics.median(limits["checked"]), statistics.median(limits["unchecked"])
    print(f"| limits | entries/s (median of {len(limits['checked'])}) |")
    print("|---|---|")
    print(f"| checked | {checked:,.0f} |")
    print(f"| not checked | {unchecked:,.0f} |")
    print(f"Cost of the checks: {(1 - checked / unchecked) * 100:+.1f}% of throughput")
    (work / "results.json").write_text(
        json.dumps({"ceiling": ceiling, "timberyard": ty, "limits": limits}, indent=2))


if __name__ == "__main__":
    main()
