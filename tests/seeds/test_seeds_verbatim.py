"""Seeds 000, 001, 002 and 004: their examples as written, against a running server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from seeds.curl import curl_commands, run, seed_text
from serverproc import Server, init

pytestmark = pytest.mark.process


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    data = tmp_path_factory.mktemp("seeds") / "data"
    creds = init(data)
    srv = Server(data, TIMBERYARD_BATCH_SECONDS="0.05").start()
    yield srv, creds
    srv.terminate()


def get(srv: Server, key: str, path: str) -> httpx.Response:
    time.sleep(0.3)
    return httpx.get(srv.url + path, headers={"Authorization": f"Bearer {key}"})


def test_seed_000_curl(server: tuple[Server, dict[str, Any]]) -> None:
    srv, creds = server
    [(_, command)] = curl_commands(seed_text("000"))
    status, body = run(command, srv.url, creds["key"])
    assert status == 200
    doc = json.loads(body)
    assert (doc["accepted"], doc["rejected"], doc["limitReached"]) == (1, 0, False)
    assert doc["bytesIngested"] > 100
    logs = get(srv, creds["key"], "/v1/logs?q=%22Stripe%20webhook%22").json()["logs"]
    assert logs[0]["service"] == "api" and logs[0]["fields"]["route"] == "/webhooks/stripe"
    assert abs(logs[0]["timestamp"] - time.time() * 1000) < 120_000
    # The seed's tip: level:error AND fields.service:api
    tip = get(srv, creds["key"], "/v1/logs?q=level%3Aerror%20AND%20fields.service%3Aapi").json()
    assert any(e["message"] == "Stripe webhook signature invalid" for e in tip["logs"])


def test_seed_001_curl(server: tuple[Server, dict[str, Any]]) -> None:
    srv, creds = server
    [(_, command)] = curl_commands(seed_text("001"))
    status, body = run(command, srv.url, creds["key"])
    assert status == 200 and json.loads(body)["success"] is True
    logs = get(srv, creds["key"], "/v1/logs?q=transId").json()["logs"]
    assert logs[0]["level"] == "error"


def test_seed_002_example_request(server: tuple[Server, dict[str, Any]]) -> None:
    srv, creds = server
    entries = [
        {"timestamp": "2023-10-27T10:35:15Z", "level": "ERROR", "service": "user-service",
         "message": "Failed to authenticate user: invalid credentials for user_id 12345",
         "details": {"user_id": 12345, "ip_address": "192.168.1.100"}},
        {"timestamp": "2023-10-27T10:30:01Z", "level": "INFO", "service": "product-service",
         "message": "Product with ID 9876 retrieved successfully.",
         "details": {"product_id": 9876, "user_agent": "PostmanRuntime/7.28.0"}},
    ]
    assert httpx.post(f"{srv.url}/v1/logs", json={"logs": entries},
                      headers={"Authorization": f"Bearer {creds['key']}"}).status_code == 200
    r = get(srv, creds["key"], "/logs?limit=10&level=ERROR&service=user-service&startDate=2023-10-27T09:00:00Z")
    assert r.json() == {"status": "success", "data": {"logs": [
        {"timestamp": "2023-10-27T10:35:15Z", "level": "ERROR", "service": "user-service",
         "message": "Failed to authenticate user: invalid credentials for user_id 12345",
         "details": {"user_id": 12345, "ip_address": "192.168.1.100"}}],
        "pagination": {"total": 1, "limit": 10, "offset": 0, "nextOffset": None}}}
    bad = get(srv, creds["key"], "/logs?startDate=yesterday")
    assert bad.status_code == 400 and bad.json()["status"] == "error" and "startDate" in bad.json()["message"]


def test_seed_004_example_requests(server: tuple[Server, dict[str, Any]]) -> None:
    srv, creds = server
    now = datetime.now(timezone.utc)
    lines = ["[web.1] Listening on 0.0.0.0:3000", '[web.1] Started GET "/health" for 10.0.0.4', "[web.1] Completed 200 OK in 18ms"]
    logs = [{"message": m, "instanceId": "0b7f0720-e235-4d39-9e67-601c34e8253c",
             "timestamp": (now - timedelta(minutes=10) + timedelta(seconds=i)).isoformat()} for i, m in enumerate(lines)]
    httpx.post(f"{srv.url}/v1/logs", json={"logs": logs}, headers={"Authorization": f"Bearer {creds['key']}"})
    app = creds["project"]
    doc = get(srv, creds["key"], f"/v1/applications/{app}/logs?limit=200").json()
    mine = [e for e in doc["logs"] if e["msg"] in lines]
    assert [e["msg"] for e in mine] == lines and doc["limit"] == 200
    assert set(mine[0]) == {"ts", "msg", "instance_id"}
    older = get(srv, creds["key"], f"/v1/applications/{app}/logs?limit=200&before={mine[0]['ts']}").json()
    assert all(e["ts"] < mine[0]["ts"] for e in older["logs"])
    newer = get(srv, creds["key"], f"/v1/applications/{app}/logs?limit=200&after={mine[-1]['ts']}").json()
    assert all(e["ts"] > mine[-1]["ts"] for e in newer["logs"])
    assert get(srv, creds["key"], "/v1/applications/prj_0000000000000000/logs").status_code == 404
    assert httpx.get(f"{srv.url}/v1/applications/{app}/logs").status_code == 401
