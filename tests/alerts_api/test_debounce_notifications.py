"""Seed 001's debounced events never notify twice; sendNotification decides eligibility."""

from __future__ import annotations

import asyncio
from typing import Any

from .conftest import add_channel, alert_app, settle

EVENT = {"message": "[checkout] Payment callback failed: missing transId", "level": "error",
         "sendNotification": True, "useDebounce": {"maxInterval": "1h"}}


async def track(h: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = await h.client.post("/api/v1/tracking/log", json=body, headers=h.auth())
    assert r.status_code == 200, r.text
    return r.json()


async def test_debounced_repeats_never_notify_again(make_harness: Any, receiver_factory: Any) -> None:
    hook = receiver_factory()
    async with alert_app(make_harness) as h:
        await add_channel(h, {"type": "webhook", "url": hook.url})
        first = await track(h, EVENT)
        await settle(h)
        [notice] = await hook.wait_for(1)
        assert notice.json()["entryId"] == first["id"]

        # Past the group interval (10 minutes) but inside the debounce window (1 hour):
        # an ordinary repeat would notify again; debounced ones fold into the first entry.
        h.services.clock.advance(11 * 60)
        h.services.dispatcher.invalidate()
        for _ in range(5):
            assert (await track(h, EVENT))["debounced"] is True
        await settle(h)
        await h.services.dispatcher.flush_due()
        await asyncio.sleep(0.3)
        assert len(hook.requests) == 1

        # The control: the same error without debounce does notify, so silence above was the debounce.
        await track(h, {k: v for k, v in EVENT.items() if k != "useDebounce"})
        await settle(h)
        await hook.wait_for(2)


async def test_send_notification_false_suppresses_and_info_true_forces(
    make_harness: Any, receiver_factory: Any
) -> None:
    hook = receiver_factory()
    async with alert_app(make_harness) as h:
        await add_channel(h, {"type": "webhook", "url": hook.url})
        await track(h, {"message": "quiet failure", "level": "error", "sendNotification": False})
        await track(h, {"message": "a milestone worth a ping", "level": "success", "sendNotification": True})
        await track(h, {"message": "plain info", "level": "info"})
        await settle(h)
        await asyncio.sleep(0.3)
        assert [r.json()["message"] for r in hook.requests] == ["a milestone worth a ping"]
