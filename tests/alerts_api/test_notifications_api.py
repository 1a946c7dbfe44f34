"""Entries posted to /v1/logs notify the organisation's channels, once per storm."""

from __future__ import annotations

import time
from typing import Any

from timberyard.alerts import verify
from timberyard.model import normalise

from .conftest import NOW_MS, PUBLIC_URL, Smtp, add_channel, alert_app, post_logs, settle

SECRET = "whsec_storm_secret"
ERROR = {
    "level": "error",
    "message": "[checkout] Payment callback failed: missing transId (orderId=25000233)",
    "service": "checkout",
    "environment": "production",
    "errorName": "CallbackError",
}
TITLE = "[checkout] Payment callback failed: missing transId (orderId=<num>)"


async def test_a_storm_makes_one_group_and_one_notification_per_channel(
    make_harness: Any, receiver_factory: Any, smtp_server: Smtp
) -> None:
    hook, slack = receiver_factory(), receiver_factory()
    async with alert_app(make_harness, smtp_server) as h:
        await add_channel(h, {"type": "webhook", "url": hook.url, "secret": SECRET})
        await add_channel(h, {"type": "slack", "url": slack.url})
        await add_channel(h, {"type": "email", "to": "ops@example.com"})

        started = time.monotonic()
        for _ in range(10):
            await post_logs(h, [ERROR] * 1000)
        assert time.monotonic() - started < 60
        await settle(h)

        r = await h.client.get("/v1/groups", headers=h.auth("read"))
        assert r.status_code == 200, r.text
        [group] = r.json()["groups"]
        assert group["count"] == 10_000 and group["title"] == TITLE
        assert group["level"] == "error" and group["service"] == "checkout"

        [request] = await hook.wait_for(1)
        [message] = await slack.wait_for(1)
        [mail] = await smtp_server.handler.wait_for(1)
        assert smtp_server.auth.logins == ["alerts"]

        # The webhook: signed, with the message, level, folded count and a dashboard link.
        assert verify(SECRET, request.body, request.headers["X-Timberyard-Signature"])
        payload = request.json()
        assert payload["message"] == ERROR["message"] and payload["level"] == "error"
        assert payload["fingerprint"] == group["fingerprint"]
        assert payload["organisationId"] == h.org["id"]
        assert payload["projectId"] == h.project["id"]
        first = payload["count"]
        assert 1 <= first <= 10_000 and payload["total"] == first
        entry_id = payload["entryId"]
        assert payload["url"] == f"{PUBLIC_URL}/#/entry/{entry_id}?project={h.project['id']}"
        r = await h.client.get(f"/v1/logs/{entry_id}", headers=h.auth("read"))
        assert r.status_code == 200 and r.json()["message"] == ERROR["message"]
        assert r.json()["timestamp"] == NOW_MS

        # Slack and email carry the same message, level, count and link.
        text = message.json()["text"]
        assert "[ERROR] checkout" in text and payload["url"] in text
        assert f"{first:,} occurrence" in text
        body = mail.get_body().get_content()
        assert ERROR["message"] in body and "Level:       error" in body
        assert payload["url"] in body and "ERROR checkout" in mail["Subject"]

        # The delivery log shows one delivered attempt per channel.
        r = await h.client.get(f"/v1/admin/organisations/{h.org['id']}/channels", headers=h.admin)
        for channel in r.json()["channels"]:
            [delivery] = channel["deliveries"]
            assert delivery["status"] == "delivered" and delivery["attempt"] == 1
            assert delivery["fingerprint"] == group["fingerprint"]

        # Nothing more inside the group interval; after it, the rest folded into one message.
        dispatcher = h.services.dispatcher
        assert await dispatcher.flush_due() == 0
        h.services.clock.advance(601)
        assert await dispatcher.flush_due() == 3
        await settle(h)
        [_, second] = await hook.wait_for(2)
        await slack.wait_for(2)
        await smtp_server.handler.wait_for(2)
        later = second.json()
        assert later["count"] == 10_000 - first and later["total"] == 10_000
        assert (len(hook.requests), len(slack.requests), len(smtp_server.handler.messages)) == (
            2,
            2,
            2,
        )


async def test_a_failing_receiver_is_retried_and_the_log_shows_it(
    make_harness: Any, receiver_factory: Any
) -> None:
    flaky = receiver_factory(statuses=[503, 500])
    down = receiver_factory(statuses=[500] * 10)
    async with alert_app(make_harness, alert_retry_attempts=3) as h:
        recovering = await add_channel(h, {"type": "webhook", "url": flaky.url})
        failing = await add_channel(h, {"type": "slack", "url": down.url})
        await post_logs(h, [ERROR])
        await settle(h)
        [request] = await flaky.wait_for(1)
        assert request.json()["message"] == ERROR["message"]
        assert flaky.attempts == 3 and down.attempts == 3 and down.requests == []

        r = await h.client.get(f"/v1/admin/channels/{recovering['id']}/deliveries", headers=h.admin)
        assert r.status_code == 200
        log = r.json()["deliveries"]
        assert [(d["attempt"], d["status"], d["statusCode"]) for d in log] == [
            (3, "delivered", 200), (2, "retry", 500), (1, "retry", 503),
        ]  # fmt: skip
        assert len({d["deliveryId"] for d in log}) == 1
        assert "500" in log[1]["error"]

        r = await h.client.get(f"/v1/admin/organisations/{h.org['id']}/channels", headers=h.admin)
        shown = {c["id"]: c["deliveries"] for c in r.json()["channels"]}
        assert [d["status"] for d in shown[failing["id"]]] == ["failed", "retry", "retry"]
        assert shown[recovering["id"]] == log
        assert h.services.dispatcher.stats()["failed"] == 1


async def test_levels_below_the_threshold_do_not_notify(
    make_harness: Any, receiver_factory: Any
) -> None:
    default, warn = receiver_factory(), receiver_factory()
    async with alert_app(make_harness) as h:
        await add_channel(h, {"type": "webhook", "url": default.url})
        await add_channel(h, {"type": "webhook", "url": warn.url, "minLevel": "warn"})
        await post_logs(
            h,
            [
                {"level": "info", "message": "user signed in"},
                {"level": "debug", "message": "cache miss"},
                {"level": "success", "message": "order paid"},
            ],
        )
        await settle(h)
        assert default.attempts == 0 and warn.attempts == 0

        await post_logs(h, [{"level": "warning", "message": "disk 91% full"}])
        await settle(h)
        [request] = await warn.wait_for(1)
        assert request.json()["level"] == "warn" and default.attempts == 0

        await post_logs(h, [{"level": "critical", "message": "database down"}])
        await settle(h)
        assert [r.json()["level"] for r in await default.wait_for(1)] == ["fatal"]
        assert len(await warn.wait_for(2)) == 2


async def test_send_notification_flag_decides_and_is_not_stored(
    make_harness: Any, receiver_factory: Any
) -> None:
    """Rows as seed 001's endpoint will submit them: `send_notification` set per row."""
    hook = receiver_factory()
    async with alert_app(make_harness) as h:
        await add_channel(h, {"type": "webhook", "url": hook.url})
        svc = h.services
        now_ns = svc.clock.now_ns()
        rows = [
            normalise({"level": "info", "message": "deploy finished"}, now_ns=now_ns),
            normalise({"level": "error", "message": "expected failure"}, now_ns=now_ns),
        ]
        rows[0]["send_notification"] = True
        rows[1]["send_notification"] = False
        await svc.pipeline.submit(h.project["id"], rows)
        svc.dispatcher.submit(h.org["id"], rows)
        await settle(h)
        [request] = await hook.wait_for(1)
        assert request.json()["message"] == "deploy finished"
        assert hook.attempts == 1

        # The flag is not a column: ClickHouse skipped it, and it is not in `fields`.
        r = await h.client.get("/v1/logs", params={"order": "asc"}, headers=h.auth("read"))
        logs = r.json()["logs"]
        assert [e["message"] for e in logs] == ["deploy finished", "expected failure"]
        for entry in logs:
            assert entry["fields"] == {}
            assert "send_notification" not in r.text and "sendNotification" not in r.text


async def test_channels_of_one_organisation_never_see_another(
    make_harness: Any, receiver_factory: Any
) -> None:
    ours, theirs = receiver_factory(), receiver_factory()
    async with alert_app(make_harness) as h:
        other = h.services.meta.create_organisation("globex", "enterprise")
        _, other_keys = h.new_project(other["id"])
        await add_channel(h, {"type": "webhook", "url": ours.url})
        await add_channel(h, {"type": "webhook", "url": theirs.url}, org=other["id"])
        await post_logs(h, [{**ERROR, "message": "theirs broke"}], key=other_keys["server"])
        await settle(h)
        [request] = await theirs.wait_for(1)
        assert request.json()["message"] == "theirs broke"
        assert ours.attempts == 0


async def test_a_channel_query_selects_the_entries_it_is_for(
    make_harness: Any, receiver_factory: Any
) -> None:
    payments, rest = receiver_factory(), receiver_factory()
    async with alert_app(make_harness) as h:
        await add_channel(
            h,
            {
                "type": "webhook",
                "url": payments.url,
                "query": "service:checkout fields.amount:>100",
            },
        )
        await add_channel(h, {"type": "webhook", "url": rest.url, "query": "-service:checkout"})
        await post_logs(
            h,
            [
                {**ERROR, "fields": {"amount": 250}},
                {**ERROR, "message": "small refund failed", "fields": {"amount": 5}},
                {"level": "error", "message": "search index stale", "service": "search"},
            ],
        )
        await settle(h)
        assert [r.json()["message"] for r in await payments.wait_for(1)] == [ERROR["message"]]
        assert [r.json()["message"] for r in await rest.wait_for(1)] == ["search index stale"]
        assert (payments.attempts, rest.attempts) == (1, 1)
