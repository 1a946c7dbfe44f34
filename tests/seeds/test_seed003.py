"""Seed 003: every curl example, verbatim against a running server, with stored fields checked."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serverproc import Server, init
from seeds.curl import curl_commands, run, seed_text

pytestmark = pytest.mark.process

EXAMPLES = curl_commands(seed_text("003"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data = tmp_path_factory.mktemp("seed003") / "data"
    creds = init(data)
    srv = Server(data, TIMBERYARD_BATCH_SECONDS="0.05").start()
    yield srv, creds["key"]
    srv.terminate()


def logs(server: tuple[Server, str]) -> list[dict[str, Any]]:
    srv, key = server
    time.sleep(0.3)
    r = httpx.get(f"{srv.url}/v1/logs", params={"limit": 10000, "order": "asc"}, headers={"Authorization": f"Bearer {key}"})
    return r.json()["logs"]


def by_message(server: tuple[Server, str]) -> dict[str, dict[str, Any]]:
    return {e["message"]: e for e in logs(server)}


def test_every_example_is_found() -> None:
    titles = [t for t, _ in EXAMPLES]
    assert len(EXAMPLES) == 11, titles
    for expected in ("Syslog", "Plain Text", "CSV", "OBL (AAC Device Logs)", "Flow Tracking"):
        assert expected in titles


@pytest.mark.parametrize(("title", "command"), EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_example_is_accepted(server: tuple[Server, str], title: str, command: str) -> None:
    srv, key = server
    env = {**os.environ, "body": "level,message,source,timestamp\nwarn,Raw CSV via SDK,nginx,1705312202000\n"}
    status, body = run(command, srv.url, key, env)
    assert status == 200, (title, body)
    doc = json.loads(body)
    assert doc["success"] is True and doc["count"] >= 1 and doc["rejected"] == 0, doc
    assert isinstance(doc["timestamp"], int)


def test_stored_fields(server: tuple[Server, str]) -> None:
    entries = by_message(server)
    app = entries["Application started"]
    assert (app["level"], app["service"], app["environment"], app["dataset"]) == ("info", "my-app", "production", "default")

    # JSONL
    assert entries["Connection refused"]["level"] == "error" and entries["Connection refused"]["service"] == "api"

    # Syslog: <165> is local4.notice -> info, <14> user.info -> info; APP-NAME -> service;
    # HOSTNAME/PROCID in fields; environment from the query default.
    syslog = [e for e in logs(server) if e["fields"].get("procid") == "1234"]
    assert len(syslog) == 2
    for e in syslog:
        assert e["service"] == "api" and e["environment"] == "production" and e["level"] == "info"
        assert e["fields"]["hostname"] == "myhost"
    assert {e["time"] for e in syslog} == {"2024-01-15T10:30:00.000Z", "2024-01-15T10:30:01.000Z"}

    # Plain text with ?source=nginx&environment=production
    text = entries["Connection refused to database"]
    assert (text["level"], text["service"], text["environment"]) == ("error", "nginx", "production")
    assert text["time"] == "2024-01-15T10:30:00.000Z"
    assert entries["Retrying connection..."]["level"] == "info"

    # CSV: ms timestamps
    csv_rows = [e for e in logs(server) if e["time"].startswith("2024-01-15T09:50:0") and e["service"] == "api"]
    assert {e["message"] for e in csv_rows} >= {"Connection refused", "Request completed"}

    # OBL: one entry per event; user_id -> userId; source from the query default
    obl = entries["Utterance: I want juice"]
    assert obl["userId"] == "user_abc" and obl["service"] == "my-aac-app"
    assert entries["Button: want"]["fields"]["spoken"] is True

    # Log with data: camelCase ids, data -> fields, tags
    signed = entries["User signed in"]
    assert (signed["userId"], signed["sessionId"]) == ("user_123", "sess_abc")
    assert signed["fields"] == {"method": "oauth", "provider": "google"} and signed["tags"] == ["auth", "login"]

    err = entries["Database connection failed"]
    assert err["errorName"] == "ConnectionError" and err["errorStack"].startswith("ConnectionError: ECONNREFUSED\n")

    assert entries["Request completed"]["fields"].get("duration") == 145 or any(
        e["fields"].get("duration") == 145 for e in logs(server))
    assert {e["requestId"] for e in logs(server) if e["message"] in ("Request received", "Processing request")} == {"req_xyz"}

    flow = [e for e in logs(server) if e["flowId"] == "checkout-a1b2c3d4"]
    assert [(e["stepIndex"], e["message"]) for e in sorted(flow, key=lambda e: e["stepIndex"])] == [
        (0, "Checkout started"), (1, "Payment processed")]

    raw = entries["Raw CSV via SDK"]
    assert (raw["service"], raw["environment"], raw["level"]) == ("nginx", "production", "warn")
