"""Parallel gzip bombs against a real server: peak memory stays bounded (issue 12: 4).

Two kinds: bodies that inflate past the size limit (refused while inflating), and the
kind the issue reported, small bodies of millions of short lines that fit the size
limit but would each build millions of entries (refused once the entry limit is passed).
"""

from __future__ import annotations

import concurrent.futures
import gzip
from pathlib import Path

import httpx
import pytest

from serverproc import Server, init

LIMIT = 50 * 1024 * 1024  # max_body_bytes of this server: each bomb builds up to this much


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_parallel_bombs_take_a_bounded_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds = init(data)
    server = Server(data, TIMBERYARD_MAX_BODY_BYTES=str(LIMIT), TIMBERYARD_LARGE_BODY_CONCURRENCY="2").start()
    try:
        assert server.proc is not None
        bomb = gzip.compress(b"\n" * (4 * LIMIT), 6)  # about 200 KB that inflates to 200 MB
        headers = {"Authorization": f"Bearer {creds['key']}", "Content-Encoding": "gzip"}
        with httpx.Client(base_url=server.url, timeout=120) as client:
            client.post("/v1/logs", json={"message": "warm"}, headers={"Authorization": headers["Authorization"]})
        before = peak_rss_mib(server.proc.pid)

        def send(_: int) -> int:
            return httpx.post(f"{server.url}/v1/logs?format=text", content=bomb, headers=headers,
                              timeout=120).status_code

        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            statuses = list(pool.map(send, range(24)))
        assert statuses == [413] * 24
        grown = peak_rss_mib(server.proc.pid) - before
        # Two permits of at most 50 MiB each, and slack; without permits 24 x 50 MiB at once.
        assert grown < 400, f"peak RSS grew by {grown:.0f} MiB"
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    finally:
        server.stop()


def test_parallel_bombs_of_short_lines_take_a_bounded_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds = init(data)
    server = Server(data).start()
    try:
        assert server.proc is not None
        # About 10 and 40 KB that inflate to just under the 10 MiB body limit: millions of lines.
        bombs = {"text": gzip.compress(b"x\n" * 5_000_000, 9), "csv": gzip.compress(b"x\n" * 5_000_000, 9),
                 "syslog": gzip.compress(b"<14>x\n" * 1_700_000, 9)}
        headers = {"Authorization": f"Bearer {creds['key']}", "Content-Encoding": "gzip"}
        with httpx.Client(base_url=server.url, timeout=120) as client:
            client.post("/v1/logs", json={"message": "warm"}, headers={"Authorization": headers["Authorization"]})
        before = peak_rss_mib(server.proc.pid)

        def send(fmt: str) -> tuple[int, str]:
            r = httpx.post(f"{server.url}/v1/logs?format={fmt}", content=bombs[fmt], headers=headers, timeout=300)
            return r.status_code, r.text

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(send, ["text", "csv", "syslog"] * 2))
        assert [status for status, _ in answers] == [400] * 6, answers
        assert all("more than 1000 entries" in text for _, text in answers), answers
        grown = peak_rss_mib(server.proc.pid) - before
        # Building every entry took this server past 6 GiB before the parsers stopped at the limit.
        assert grown < 400, f"peak RSS grew by {grown:.0f} MiB"
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    finally:
        server.stop()


pytestmark = pytest.mark.filterwarnings("ignore")
