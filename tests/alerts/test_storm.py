"""A storm of identical errors makes one group and one notification per channel."""

from __future__ import annotations

import time
from typing import Any

from timberyard.alerts import MemoryChannels, verify

from .conftest import Smtp, add_channel, entry, settings

ORG = "org1"
SECRET = "whsec_test_secret"


async def test_storm_of_10000_identical_errors(
    receiver_factory: Any, smtp_server: Smtp, make_dispatcher: Any, clock: Any
) -> None:
    hook, slack = receiver_factory(), receiver_factory()
    channels = MemoryChannels()
    add_channel(channels, ORG, {"type": "webhook", "url": hook.url, "secret": SECRET}, "hook")
    add_channel(channels, ORG, {"type": "slack", "url": slack.url}, "slack")
    add_channel(channels, ORG, {"type": "email", "to": "ops@example.com"}, "mail")
    dispatcher = await make_dispatcher(channels, settings=settings(smtp_server.port))

    rows = [entry() for _ in range(10_000)]
    started = time.perf_counter()
    for i in range(0, len(rows), 100):  # 100 requests over 50 seconds
        dispatcher.submit(ORG, rows[i : i + 100])
        clock.advance(0.5)
    submit_seconds = time.perf_counter() - started
    assert await dispatcher.wait_idle(20)
    assert submit_seconds < 0.5

    [group] = await dispatcher.groups.groups(ORG)
    assert group.count == 10_000
    assert group.title == "User <num> failed at <path> <str>"

    [request] = await hook.wait_for(1)
    [message] = await slack.wait_for(1)
    [mail] = await smtp_server.handler.wait_for(1)
    assert smtp_server.auth.logins == ["alerts"]

    # The webhook: signed over the raw body, with the message, level, link and count.
    assert verify(SECRET, request.body, request.headers["X-Timberyard-Signature"])
    assert not verify("wrong", request.body, request.headers["X-Timberyard-Signature"])
    payload = request.json()
    assert request.headers["X-Timberyard-Timestamp"] == str(payload["timestamp"])
    assert payload["level"] == "error"
    assert payload["service"] == "checkout"
    assert payload["fingerprint"] == group.key.fingerprint
    assert payload["title"] == "User <num> failed at <path> <str>"
    assert payload["total"] >= payload["count"] >= 1
    shown = next(r for r in rows if r["id"] == payload["entryId"])
    assert payload["message"] == shown["message"]
    assert payload["url"] == f"http://127.0.0.1:8080/#/entry/{shown['id']}?project=proj1"
    assert payload["firstSeen"].startswith("2023-11-14T22:13:20")

    # Slack: text plus blocks, with the same link.
    slack_body = message.json()
    assert payload["url"] in slack_body["text"]
    assert slack_body["blocks"][0]["type"] == "header"
    assert shown["message"] in slack_body["blocks"][1]["text"]["text"]

    # Email: the message, the level, the link.
    assert mail["To"] == "ops@example.com"
    assert "ERROR checkout" in mail["Subject"]
    body = mail.get_body().get_content()
    assert payload["url"] in body and "Level:       error" in body

    # Nothing more arrives inside the interval, however long we wait.
    clock.advance(60)
    assert await dispatcher.flush_due() == 0
    assert await dispatcher.wait_idle(5)
    assert (len(hook.requests), len(slack.requests), len(smtp_server.handler.messages)) == (1, 1, 1)

    # When the interval ends, what was folded in is reported once, with its count.
    clock.advance(600)
    assert await dispatcher.flush_due() == 3
    [_, second] = await hook.wait_for(2)
    await slack.wait_for(2)
    mails = await smtp_server.handler.wait_for(2)
    assert payload["count"] + second.json()["count"] == 10_000
    assert second.json()["total"] == 10_000
    assert "since the last notification, 10,000 in total" in mails[1].get_body().get_content()
    assert dispatcher.stats().get("dropped", 0) == 0
