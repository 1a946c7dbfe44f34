"""`timberyard search` and `timberyard tail` against a real server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from .conftest import Live


@pytest.fixture(scope="module")
def seeded(live: Live) -> Live:
    entries = [
        {
            "message": f"checkout step {i}",
            "level": "error" if i % 3 == 0 else "info",
            "source": "search-svc",
            "data": {"step": i},
        }
        for i in range(30)
    ]
    entries.append({"message": "line one\nline two", "source": "search-svc", "level": "warn"})
    r = httpx.post(
        f"{live.url}/v1/logs",
        json={"logs": entries},
        headers={"Authorization": f"Bearer {live.key}"},
    )
    assert r.status_code == 200 and r.json()["accepted"] == 31
    live.wait_logs("service:search-svc", 31)
    return live


def test_search_with_a_query_prints_one_line_per_entry(seeded: Live) -> None:
    done = seeded.run("search", "service:search-svc AND level:error", "--from", "-1h")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 10
    stamp, level, service, message = lines[0].split(" ", 3)
    assert stamp.endswith("Z") and level == "ERROR" and service == "search-svc"
    assert message == "checkout step 27"  # newest first
    assert "\x1b[" not in done.stdout  # no colour when stdout is not a terminal
    multi = seeded.run("search", "service:search-svc AND level:warn").stdout
    assert multi == f"{multi.split(' ', 1)[0]} WARN  search-svc line one\\nline two\n"


def test_search_json_follows_cursors_up_to_the_limit(seeded: Live) -> None:
    done = seeded.run("search", "service:search-svc", "--json", "--limit", "25", "--order", "asc")
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["fields"]["step"] for e in entries] == list(range(25))
    assert all(e["service"] == "search-svc" for e in entries)


def test_search_reports_query_errors(seeded: Live) -> None:
    done = seeded.run("search", "level:")
    assert done.returncode == 1
    assert done.stderr.startswith("timberyard: error: the server answered 400: cannot parse query")
    window = seeded.run("search", "service:search-svc", "--from", "-2h", "--to", "-1h")
    assert window.returncode == 0 and window.stdout == ""


def test_tail_streams_new_entries_until_ctrl_c(live: Live) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "timberyard", "tail", "service:tail-svc", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=live.env(),
        text=True,
    )
    got: list[dict[str, object]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            got.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 15
        while len(got) < 3 and time.monotonic() < deadline:
            httpx.post(
                f"{live.url}/v1/logs",
                json=[
                    {"message": f"tailed {len(got)}", "source": "tail-svc"},
                    {"message": "other", "source": "elsewhere"},
                ],
                headers={"Authorization": f"Bearer {live.key}"},
            )
            time.sleep(0.3)
        assert len(got) >= 3
        assert all(e["service"] == "tail-svc" for e in got)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
