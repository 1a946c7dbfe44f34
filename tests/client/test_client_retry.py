"""Retries: 429 with Retry-After through a real socket, and the backoff policy as a table."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from serverproc import free_port
from timberyard.client import APIError, Backoff, Client, ConnectionFailed

from .conftest import Answer, Live, Seen, Stub


def test_429_is_retried_after_retry_after(
    live: Live, stub: Callable[[Answer, str | None], Stub]
) -> None:
    def answer(seen: Seen, n: int) -> tuple[int, dict[str, str], bytes] | None:
        if n == 1:
            return (
                429,
                {"Retry-After": "1", "Content-Type": "application/json"},
                b'{"error": "Rate limit exceeded", "retryAfter": 1}',
            )
        return None  # the real server answers

    proxy = stub(answer, live.url)
    started = time.monotonic()
    with Client(proxy.url, live.key) as client:
        result = client.ingest_raw("retried line\n", "text", source="retry-svc")
    assert result["accepted"] == 1
    assert len(proxy.seen) == 2
    assert proxy.seen[1].at - proxy.seen[0].at >= 0.95
    assert time.monotonic() - started < 5
    first, second = proxy.seen
    assert first.body == second.body == b"retried line\n"
    assert first.path == second.path == "/v1/logs?format=text&source=retry-svc"
    assert [e["message"] for e in live.wait_logs("service:retry-svc", 1)] == ["retried line"]


def scripted(*statuses: int | str) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering with each status in turn ("down" fails to connect)."""
    seen: list[httpx.Request] = []
    script = list(statuses)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = script.pop(0) if script else 200
        if status == "down":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        headers = {"Retry-After": "7"} if status == 429 else {}
        return httpx.Response(
            int(status), json={"error": f"status {status}", "count": 1}, headers=headers
        )

    return httpx.MockTransport(answer), seen


@pytest.mark.parametrize(
    ("script", "sleeps", "outcome"),
    [
        ((200,), [], "ok"),
        ((429, 200), [7.0], "ok"),  # Retry-After, not the backoff
        ((503, 502, 200), [0.5, 1.0], "ok"),
        (("down", "down", 200), [0.5, 1.0], "ok"),
        ((500, 500, 500, 500), [0.5, 1.0, 2.0], 500),  # three retries, then the error
        (("down",) * 4, [0.5, 1.0, 2.0], "down"),
        ((400,), [], 400),  # a client error is final
        ((401,), [], 401),
    ],
)
def test_backoff_table(
    script: tuple[int | str, ...], sleeps: list[float], outcome: int | str
) -> None:
    transport, seen = scripted(*script)
    slept: list[float] = []
    backoff = Backoff(retries=3, base=0.5, factor=2, jitter=0)
    with Client(
        "http://ty.test", "sk_x", backoff=backoff, sleep=slept.append, transport=transport
    ) as client:
        if outcome == "ok":
            assert client.ingest({"message": "x"})["count"] == 1
        elif outcome == "down":
            with pytest.raises(ConnectionFailed, match="connection refused"):
                client.ingest({"message": "x"})
        else:
            with pytest.raises(APIError) as failed:
                client.ingest({"message": "x"})
            assert failed.value.status == outcome
    assert slept == sleeps
    assert len(seen) == len(sleeps) + 1


def test_backoff_is_capped_and_honours_retry_after_within_reason() -> None:
    backoff = Backoff(base=1, factor=2, cap=10, jitter=0, max_retry_after=60)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 10, 10]
    assert backoff.delay(3, retry_after=0.25) == 0.25
    assert backoff.delay(1, retry_after=3600) == 60


def test_an_unreachable_server_is_one_clear_error() -> None:
    port = free_port()
    with Client(f"http://127.0.0.1:{port}", "sk_x", backoff=Backoff(retries=0)) as client:
        with pytest.raises(ConnectionFailed) as failed:
            client.ingest({"message": "x"})
    assert str(failed.value) == f"cannot reach http://127.0.0.1:{port}: connection refused"
