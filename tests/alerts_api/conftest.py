"""Notifications through the HTTP API: an app with SMTP, a fixed clock and fast retries."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from alerts.conftest import Smtp, receiver_factory, smtp_server  # noqa: F401 - fixtures
from conftest import Harness
from timberyard.clock import Clock

# 2026-01-01T00:00:00Z: the fixed "now" of these tests.
NOW = 1_767_225_600.0
NOW_MS = int(NOW * 1000)
HOUR_MS = 3_600_000
PUBLIC_URL = "https://logs.example.com"


@contextlib.asynccontextmanager
async def alert_app(
    make_harness: Callable[..., Any], smtp: Smtp | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    """A harness whose clock stands still at NOW (until a test advances it)."""
    values: dict[str, Any] = {
        "clock": Clock(fixed=NOW),
        "batch_seconds": 0,  # a fixed clock never ages a batch: flush at once
        "public_url": PUBLIC_URL,
        "alert_retry_backoff": 0.01,
    }
    if smtp is not None:
        values.update(
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_starttls=False,
            smtp_username="alerts",
            smtp_password="s3cret",
            smtp_sender="timberyard@example.com",
        )
    async with make_harness(**{**values, **overrides}) as h:
        yield h


async def add_channel(h: Harness, body: dict[str, Any], org: str | None = None) -> dict[str, Any]:
    """Create a channel through the admin API; its JSON."""
    r = await h.client.post(
        f"/v1/admin/organisations/{org or h.org['id']}/channels", json=body, headers=h.admin
    )
    assert r.status_code == 201, r.text
    return r.json()


async def post_logs(h: Harness, entries: list[dict[str, Any]], key: str | None = None) -> None:
    """POST /v1/logs and check that every entry was accepted."""
    headers = {"Authorization": f"Bearer {key}"} if key else h.auth()
    r = await h.client.post("/v1/logs", json={"logs": entries}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(entries)


async def settle(h: Harness) -> None:
    """Wait until the entries are stored and the dispatcher has sent what it will."""
    await h.flushed()
    assert await h.services.dispatcher.wait_idle(10)
