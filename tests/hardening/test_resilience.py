"""Bodies and background work that once broke the server (issue 12: 1, 3, 4, 10)."""

from __future__ import annotations

import asyncio
import errno
import gzip
import logging
import zlib
from typing import Any

import pytest

from conftest import Harness
from timberyard.api import common


def ndjson(*messages: str) -> bytes:
    return b"".join(b'{"message": "%s"}\n' % m.encode() for m in messages)


def bomb(size: int) -> bytes:
    return gzip.compress(b"\n" * size, 9)


@pytest.mark.parametrize(
    ("body", "status", "accepted"),
    [
        (gzip.compress(ndjson("a", "b")), 200, 2),
        (gzip.compress(ndjson("a")) + gzip.compress(ndjson("b", "c")), 200, 3),  # cat a.gz b.gz
        (gzip.compress(ndjson("a")) + gzip.compress(b"") + gzip.compress(ndjson("b")), 200, 2),
        (gzip.compress(ndjson("a")) + b"\0" * 16, 200, 1),  # zero padding after the member
        (gzip.compress(ndjson("a")) + b"garbage", 400, 0),
        (gzip.compress(ndjson("a"))[:-6], 400, 0),  # truncated
        (bomb(50 * 1024 * 1024), 413, 0),  # 50 KB that inflates to 50 MB
        (gzip.compress(b"\n" * 600_000) + gzip.compress(b"\n" * 600_000), 413, 0),  # members add up
    ],
)
async def test_gzip_members(make_harness: Any, body: bytes, status: int, accepted: int) -> None:
    async with make_harness(max_body_bytes=1_000_000) as h:
        r = await h.client.post("/v1/logs?format=jsonl", content=body,
                                headers={**h.auth(), "Content-Encoding": "gzip"})
        assert r.status_code == status, r.text
        if status == 200:
            assert r.json()["accepted"] == accepted
        await h.flushed()
        assert h.services.pipeline.flushed_rows == accepted


def test_inflate_builds_no_more_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bomb is refused after about `limit` bytes, not after inflating it whole."""
    built: list[int] = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self, wbits: int) -> None:
            self.inner = real(wbits)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self.inner.decompress(data, max_length)
            built.append(len(out))
            return out

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(common.zlib, "decompressobj", Counting)

    class Fake:
        scope: dict[str, Any] = {}

    with pytest.raises(common.TimberyardError) as caught:
        asyncio.run(common._inflate(Fake(), bomb(200 * 1024 * 1024), 1_000_000, "gzip"))  # type: ignore[arg-type]
    assert caught.value.code == "PAYLOAD_TOO_LARGE"
    assert sum(built) < 2_000_000 and max(built) <= 256 * 1024


async def test_large_bodies_wait_for_a_permit() -> None:
    """Past 1 MiB a request holds one of a few permits until it ends."""
    entered: list[int] = []
    release = asyncio.Event()

    class Req:
        def __init__(self, scope: dict[str, Any]) -> None:
            self.scope = scope

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        await common._large(Req(scope))  # type: ignore[arg-type]
        await common._large(Req(scope))  # type: ignore[arg-type]  # once per request
        entered.append(1)
        await release.wait()

    middleware = common.LargeBodies(endpoint, permits=2)
    tasks = [asyncio.create_task(middleware({"type": "http"}, None, None)) for _ in range(5)]
    await asyncio.sleep(0.05)
    assert len(entered) == 2
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert len(entered) == 5


async def test_flusher_survives_oserror(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = harness.services.pipeline
    wal = pipeline.wal
    real = wal.write_checkpoint
    failing = {"on": True}

    def write_checkpoint(checkpoint: Any) -> None:
        if failing["on"]:
            raise OSError(errno.EMFILE, "Too many open files")
        real(checkpoint)

    monkeypatch.setattr(wal, "write_checkpoint", write_checkpoint)
    r = await harness.client.post("/v1/logs", json=[{"message": "kept"}], headers=harness.auth())
    assert r.status_code == 200
    for _ in range(200):
        if pipeline.flush_failures >= 2:
            break
        await asyncio.sleep(0.02)
    health = await harness.client.get("/health")
    assert health.status_code == 503
    error = health.json()["ingest"]["flusherError"]
    assert "Too many open files" in error["error"] and error["since"] > 0
    assert health.json()["ingest"]["flushFailures"] >= 2
    failing["on"] = False
    await pipeline.wait_flushed(15)
    health = await harness.client.get("/health")
    assert health.status_code == 200 and health.json()["ingest"]["flusherError"] is None
    r = await harness.client.get("/v1/logs", headers=harness.auth())
    assert [e["message"] for e in r.json()["logs"]] == ["kept"]


@pytest.mark.parametrize("where", ["insert", "checkpoint"])
async def test_stuck_flusher_turns_ingestion_into_503(make_harness: Any, monkeypatch: pytest.MonkeyPatch,
                                                      where: str) -> None:
    async with make_harness(wal_max_bytes=2000) as h:
        pipeline = h.services.pipeline
        target, name = (h.services.store, "insert_rows") if where == "insert" else (pipeline.wal, "write_checkpoint")
        real = getattr(target, name)
        failing = {"on": True, "calls": 0}

        def broken(*args: Any, **kw: Any) -> Any:
            if failing["on"]:
                failing["calls"] += 1
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(*args, **kw)

        monkeypatch.setattr(target, name, broken)
        statuses = []
        for i in range(40):
            r = await h.client.post("/v1/logs", json=[{"message": f"m{i} " + "x" * 200}], headers=h.auth())
            statuses.append(r.status_code)
            if i == 0:
                # The flusher meets the failure before the WAL fills: a flusher that died of
                # it would never store the rows once the failure is gone (the bug this found).
                for _ in range(500):
                    if failing["calls"]:
                        break
                    await asyncio.sleep(0.01)
                assert failing["calls"], "the flusher never tried to store the first entry"
            if r.status_code == 503:
                assert r.headers["retry-after"] and "retry later" in r.json()["error"]
                break
        assert statuses[-1] == 503 and statuses[0] == 200
        failing["on"] = False
        await pipeline.wait_flushed(15)
        r = await h.client.post("/v1/logs", json=[{"message": "after"}], headers=h.auth())
        assert r.status_code == 200
        await h.flushed()
        r = await h.client.get("/v1/logs", params={"limit": 100}, headers=h.auth())
        assert r.json()["total"] == len(statuses)  # every acknowledged entry, once


async def test_wal_writer_survives_any_error(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    wal = harness.services.pipeline.wal
    real = wal.write
    failing = {"on": True}

    def write(*args: Any) -> Any:
        if failing["on"]:
            raise RuntimeError("boom")
        return real(*args)

    monkeypatch.setattr(wal, "write", write)
    r = await harness.client.post("/v1/logs", json=[{"message": "lost"}], headers=harness.auth())
    assert r.status_code == 503 and r.headers["retry-after"]
    failing["on"] = False
    r = await harness.client.post("/v1/logs", json=[{"message": "kept"}], headers=harness.auth())
    assert r.status_code == 200


async def test_client_disconnect_is_one_log_line(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    messages = [
        {"type": "http.request", "body": b'{"message": "half', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/logs", "raw_path": b"/v1/logs", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
        "headers": [(b"authorization", f"Bearer {harness.keys['server']}".encode()),
                    (b"content-type", b"application/json")],
    }
    with caplog.at_level(logging.INFO):
        await harness.app(scope, receive, send)
    records = [r for r in caplog.records if "went away" in r.getMessage() or r.exc_info]
    assert len(records) == 1 and records[0].levelno == logging.INFO and not records[0].exc_info
    assert not any("unhandled" in r.getMessage() for r in caplog.records)

