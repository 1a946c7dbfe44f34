"""Two real `timberyard serve` processes sharing one PostgreSQL and one Redis.

Each node has its own embedded entry store (no ClickHouse server exists here);
what they share is metadata, limits, debounce windows, the live tail and caches.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemons import Postgres, Redis
from serverproc import ADMIN, Server, init

pytestmark = pytest.mark.process

ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def nodes(tmp_path: Path, postgres: Postgres, redis_server: Redis) -> Iterator[tuple[Server, Server, dict[str, Any]]]:
    redis_server.flush()
    meta = postgres.create_database()
    creds = init(tmp_path / "a", plan="free", args=["--meta", meta])
    a = Server(tmp_path / "a", "--meta", meta, "--redis", redis_server.url(), TIMBERYARD_BATCH_SECONDS="0.05")
    b = Server(tmp_path / "b", TIMBERYARD_META_URL=meta, TIMBERYARD_REDIS_URL=redis_server.url(),
               TIMBERYARD_BATCH_SECONDS="0.05")
    try:
        a.start()
        b.start()
        yield a, b, creds
    finally:
        a.stop()
        b.stop()


def new_key(node: Server, plan: str = "enterprise") -> tuple[str, str]:
    """An organisation, a project and a server key made through `node`: (key id, secret)."""
    with httpx.Client(base_url=node.url, headers=ADMIN_AUTH, timeout=10) as c:
        org = c.post("/v1/admin/organisations", json={"name": "shared", "plan": plan}).json()["id"]
        project = c.post(f"/v1/admin/organisations/{org}/projects", json={"name": "web"}).json()["id"]
        r = c.post(f"/v1/admin/projects/{project}/keys", json={"kind": "server"})
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["key"]


def test_two_nodes_share_limits_debounce_tail_and_keys(nodes: tuple[Server, Server, dict[str, Any]]) -> None:
    a, b, creds = nodes
    free = {"Authorization": f"Bearer {creds['key']}"}

    # 1. A free plan's 60 requests a minute hold for both nodes together (50 each would pass alone).
    def send(node: Server) -> int:
        return httpx.post(f"{node.url}/v1/logs", json={"message": "rate"}, headers=free, timeout=10).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, [a, b] * 50))
    refill = int(time.monotonic() - started) + 1  # a bucket regains one request a second
    assert 60 <= statuses.count(200) <= 60 + refill, statuses
    assert statuses.count(429) == 100 - statuses.count(200)

    # 2. Keys made through node A work on node B at once.
    key_id, secret = new_key(a)
    auth = {"Authorization": f"Bearer {secret}"}

    # 3. A debounced repeat sent to the other node folds into the first entry's count.
    body = {"message": "payment failed for order 1", "level": "error", "useDebounce": True}
    first = httpx.post(f"{a.url}/api/v1/tracking/log", json=body, headers=auth, timeout=10).json()
    assert first["debounced"] is False
    repeat = httpx.post(f"{b.url}/api/v1/tracking/log", json={**body, "message": "payment failed for order 2"},
                        headers=auth, timeout=10).json()
    assert repeat["debounced"] is True and repeat["id"] == first["id"] and repeat["count"] == 2

    # 4. A tail opened on node B receives an entry ingested on node A within a second.
    received: list[tuple[float, dict[str, Any]]] = []
    opened = threading.Event()

    def tail() -> None:
        with httpx.stream("GET", f"{b.url}/v1/tail", params={"q": "via-a"}, headers=auth, timeout=20) as r:
            assert r.status_code == 200
            opened.set()
            for line in r.iter_lines():
                if line.startswith("data: "):
                    received.append((time.monotonic(), json.loads(line[6:])))
                    return

    reader = threading.Thread(target=tail, daemon=True)
    reader.start()
    assert opened.wait(10)
    time.sleep(0.2)  # the subscription is registered once the response has started
    sent = time.monotonic()
    r = httpx.post(f"{a.url}/v1/logs", json={"message": "via-a", "level": "info"}, headers=auth, timeout=10)
    assert r.status_code == 200
    reader.join(5)
    assert received, "the tail on node B saw nothing"
    at, entry = received[0]
    assert entry["message"] == "via-a" and at - sent < 1.0

    # 5. Entries from both nodes, interleaved: a tail on B that resumes with Last-Event-ID
    #    after a few gets every other one, none twice.
    first_part = read_tail(b, auth, "mixed", count=10, sender=lambda: send_mixed(a, b, auth))
    rest = read_tail(b, auth, "mixed", count=30, last_event_id=first_part[-1][0])
    ids = [i for i, _ in first_part + rest]
    assert len(ids) == len(set(ids)) == 40 and ids == sorted(ids)
    assert {m for _, m in first_part + rest} == {f"mixed {n}" for n in range(40)}

    # 6. A key revoked through node A stops working on node B at once (not after its 5 s cache).
    assert httpx.get(f"{b.url}/v1/logs", headers=auth, timeout=10).status_code == 200  # cached on B now
    assert httpx.delete(f"{a.url}/v1/admin/keys/{key_id}", headers=ADMIN_AUTH, timeout=10).status_code == 200
    deadline = time.monotonic() + 1.5
    status = 200
    while time.monotonic() < deadline and status == 200:
        status = httpx.get(f"{b.url}/v1/logs", headers=auth, timeout=10).status_code
        time.sleep(0.05)
    assert status == 401


def send_mixed(a: Server, b: Server, auth: dict[str, str]) -> None:
    """40 entries, sent to both nodes at once."""
    def send(n: int) -> None:
        node = (a, b)[n % 2]
        r = httpx.post(f"{node.url}/v1/logs", json={"message": f"mixed {n}"}, headers=auth, timeout=10)
        assert r.status_code == 200

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, range(40)))


def read_tail(node: Server, auth: dict[str, str], q: str, count: int, sender: Any = None,
              last_event_id: str | None = None) -> list[tuple[str, str]]:
    """(id, message) of the first `count` events of a tail (sender runs once it is open)."""
    headers = {**auth, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    got: list[tuple[str, str]] = []
    with httpx.stream("GET", f"{node.url}/v1/tail", params={"q": q}, headers=headers, timeout=20) as r:
        assert r.status_code == 200
        if sender is not None:
            time.sleep(0.2)
            threading.Thread(target=sender, daemon=True).start()
        event_id = ""
        for line in r.iter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                got.append((event_id, json.loads(line[6:])["message"]))
                if len(got) == count:
                    return got
    return got
