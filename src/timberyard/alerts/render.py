"""Notifications rendered as webhook JSON, Slack messages and emails."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote

from ..model import iso_from_ns
from .records import Notification

TRUNCATION_MARK = "… [truncated]"
# Slack rejects section texts above 3000 characters and headers above 150.
SLACK_SECTION_LIMIT = 2900
SLACK_HEADER_LIMIT = 150

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def entry_link(public_url: str, entry_id: str, project_id: str) -> str:
    """The dashboard address of one entry."""
    base = public_url.rstrip("/")
    return f"{base}/#/entry/{quote(entry_id, safe='')}?project={quote(project_id, safe='')}"


def truncate(text: str, limit: int, mark: str = TRUNCATION_MARK) -> str:
    """The text cut to at most `limit` characters, marked when cut."""
    if len(text) <= limit:
        return text
    keep = max(limit - len(mark), 0)
    return text[:keep] + mark[: limit - keep]


def one_line(text: str, limit: int, mark: str = TRUNCATION_MARK) -> str:
    """The text on one line (control characters collapsed), cut to `limit`."""
    return truncate(_CONTROL.sub(" ", text).strip(), limit, mark)


def occurrences(n: Notification) -> str:
    """How many occurrences the notification stands for, in words."""
    noun = "occurrence" if n.count == 1 else "occurrences"
    if n.count >= n.total:
        return f"{n.count:,} {noun} (new error group)"
    return f"{n.count:,} {noun} since the last notification, {n.total:,} in total"


def webhook_payload(n: Notification, text_limit: int) -> dict[str, Any]:
    """The JSON body POSTed to a generic webhook."""
    e = n.entry
    return {
        "event": "error_group.notification",
        "deliveryId": n.delivery_id,
        "sentAt": iso_from_ns(int(n.sent_at * 1_000_000_000)),
        "timestamp": int(n.sent_at),
        "organisationId": n.key.org_id,
        "projectId": n.key.project_id,
        "channelId": n.channel_id,
        "fingerprint": n.key.fingerprint,
        "title": truncate(n.title, text_limit),
        "message": truncate(e.message, text_limit),
        "messageLength": len(e.message),
        "messageTruncated": len(e.message) > text_limit,
        "level": e.level,
        "service": e.service,
        "environment": e.environment,
        "errorName": e.error_name,
        "count": n.count,
        "total": n.total,
        "firstSeen": iso_from_ns(n.first_seen),
        "lastSeen": iso_from_ns(n.last_seen),
        "entryId": e.id,
        "entryTimestamp": e.timestamp_iso,
        "url": n.link,
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_code(message: str, text_limit: int) -> str:
    """The message as a Slack code block that fits a section."""
    limit = text_limit
    while True:
        body = _slack_escape(truncate(message, limit)).replace("```", "` ` `")
        if len(body) + 6 <= SLACK_SECTION_LIMIT or limit <= 100:
            return f"```{body[: SLACK_SECTION_LIMIT - 6]}```"
        limit = limit * (SLACK_SECTION_LIMIT - 6) // (len(body) + 1)


def slack_payload(n: Notification, text_limit: int) -> dict[str, Any]:
    """A Slack incoming-webhook message: fallback `text` plus Block Kit `blocks`."""
    e = n.entry
    service = e.service or "(no service)"
    headline = f"[{e.level.upper()}] {service}: {one_line(e.message, SLACK_HEADER_LIMIT)}"
    fields = [
        f"*Level*\n{e.level}",
        f"*Service*\n{_slack_escape(service)}",
        f"*Environment*\n{_slack_escape(e.environment or '-')}",
        f"*Occurrences*\n{occurrences(n)}",
    ]
    if e.error_name:
        fields.append(f"*Error*\n{_slack_escape(e.error_name[:200])}")
    context = (
        f"<{n.link}|Open in Timberyard> · {e.timestamp_iso} · "
        f"group `{n.key.fingerprint}` first seen {iso_from_ns(n.first_seen)}"
    )
    return {
        "text": f"{truncate(headline, text_limit)} ({occurrences(n)}) {n.link}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": one_line(headline, SLACK_HEADER_LIMIT)},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _slack_code(e.message, text_limit)},
            },
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def email_subject(n: Notification, limit: int) -> str:
    """A one-line subject of at most `limit` characters."""
    e = n.entry
    times = f" (x{n.count:,})" if n.count > 1 else ""
    subject = f"[Timberyard] {e.level.upper()} {e.service or '-'}{times}: {e.message}"
    # An ASCII mark keeps an ASCII subject free of encoded words when folded.
    return one_line(subject, limit, "...")


def email_message(
    n: Notification, *, sender: str, to: tuple[str, ...], text_limit: int, subject_limit: int
) -> EmailMessage:
    """The plain-text email of a notification."""
    e = n.entry
    rows = [
        ("Level", e.level),
        ("Service", e.service or "-"),
        ("Environment", e.environment or "-"),
        ("Error", e.error_name or "-"),
        ("Occurrences", occurrences(n)),
        ("Entry time", e.timestamp_iso),
        ("First seen", iso_from_ns(n.first_seen)),
        ("Last seen", iso_from_ns(n.last_seen)),
        ("Group", f"{n.key.fingerprint} ({truncate(n.title, 200)})"),
        ("Project", n.key.project_id),
    ]
    body = "\n".join(
        [truncate(e.message, text_limit), ""]
        + [f"{name + ':':<13}{value}" for name, value in rows]
        + ["", f"Open in Timberyard: {n.link}", ""]
    )
    msg = EmailMessage()
    msg["Subject"] = email_subject(n, subject_limit)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(n.sent_at, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=n.delivery_id, domain="timberyard")
    msg["X-Timberyard-Delivery"] = n.delivery_id
    msg["X-Timberyard-Fingerprint"] = n.key.fingerprint
    msg.set_content(body)
    return msg
