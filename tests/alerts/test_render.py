"""Rendering: truncation of huge messages, links, subjects, Slack limits."""

from __future__ import annotations

import json

import pytest

from timberyard.alerts.records import EntrySnapshot, GroupKey, Notification
from timberyard.alerts.render import (
    email_message,
    email_subject,
    entry_link,
    slack_payload,
    truncate,
    webhook_payload,
)


def notification(message: str, count: int = 3, total: int = 10) -> Notification:
    snapshot = EntrySnapshot(
        id="00000000000000ab",
        project_id="proj1",
        level="error",
        message=message,
        service="checkout",
        environment="production",
        error_name="TypeError",
        timestamp_ns=1_700_000_000_000_000_000,
    )
    return Notification(
        delivery_id="d1",
        channel_id="c1",
        key=GroupKey("org1", "proj1", "0123456789abcdef"),
        title="title",
        count=count,
        total=total,
        first_seen=1_700_000_000_000_000_000,
        last_seen=1_700_000_060_000_000_000,
        entry=snapshot,
        link=entry_link("https://logs.example.com/", snapshot.id, snapshot.project_id),
        sent_at=1_700_000_100.0,
    )


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("x" * 10, 10, "x" * 10),
        ("x" * 30, 20, "xxxxxxx… [truncated]"),
        ("x" * 30, 5, "… [tr"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected
    assert len(truncate(text, limit)) <= limit


def test_entry_link() -> None:
    assert entry_link("https://logs.example.com/", "ab12", "p 1") == (
        "https://logs.example.com/#/entry/ab12?project=p%201"
    )


HUGE = "<b>&</b> " * 30_000  # 270,000 characters, and Slack escaping makes it longer


def test_webhook_payload_truncates_a_huge_message() -> None:
    payload = webhook_payload(notification(HUGE), 2000)
    assert len(payload["message"]) == 2000
    assert payload["messageTruncated"] is True
    assert payload["messageLength"] == len(HUGE)
    assert payload["url"] == "https://logs.example.com/#/entry/00000000000000ab?project=proj1"
    json.dumps(payload)


def test_slack_payload_fits_slack_limits() -> None:
    payload = slack_payload(notification(HUGE), 2000)
    header, code, fields, context = payload["blocks"]
    assert len(header["text"]["text"]) <= 150
    assert len(code["text"]["text"]) <= 3000
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in code["text"]["text"]
    assert len(payload["text"]) < 2500
    assert any(
        "3 occurrences since the last notification, 10 in total" in f["text"]
        for f in fields["fields"]
    )
    assert (
        "<https://logs.example.com/#/entry/00000000000000ab?project=proj1|Open in Timberyard>"
        in (context["elements"][0]["text"])
    )


def test_email_subject_is_one_short_line() -> None:
    subject = email_subject(notification("first line\r\nBcc: x@y.z\n" + "y" * 500), 150)
    assert len(subject) <= 150
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("[Timberyard] ERROR checkout (x3): first line Bcc")
    assert subject.endswith("yyy...")


def test_email_body_truncates_and_links() -> None:
    msg = email_message(
        notification(HUGE, count=1, total=1),
        sender="t@example.com",
        to=("a@example.com",),
        text_limit=2000,
        subject_limit=150,
    )
    body = msg.get_content()
    assert len(body) < 3000
    assert "1 occurrence (new error group)" in body
    assert "https://logs.example.com/#/entry/00000000000000ab?project=proj1" in body
