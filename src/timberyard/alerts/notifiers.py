"""Senders that put a notification on the wire: webhook, Slack and email."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
from concurrent.futures import Executor
from email.message import EmailMessage
from typing import Protocol

import httpx

from .channels import ChannelConfig
from .config import SmtpSettings
from .records import Notification
from .render import email_message, slack_payload, webhook_payload

SIGNATURE_HEADER = "X-Timberyard-Signature"
TIMESTAMP_HEADER = "X-Timberyard-Timestamp"
DELIVERY_HEADER = "X-Timberyard-Delivery"

# Statuses worth another attempt: the receiver may recover or asked us to wait.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
_ERROR_BODY_CHARS = 200


class DeliveryError(Exception):
    """A failed attempt; `retryable` says whether another attempt may succeed."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after


class Notifier(Protocol):
    """Sends one notification to one channel."""

    async def send(self, config: ChannelConfig, notification: Notification) -> int | None:
        """Deliver it, returning the receiver's status code, or raise DeliveryError."""
        ...


def sign(secret: str, body: bytes) -> str:
    """The signature header value of a body: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether a signature header matches the body; what a receiver checks."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def encode_json(payload: object) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are sent and signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def post_json(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> int:
    """POST a body; the status on 2xx, else DeliveryError (retryable on 5xx, 408, 429)."""
    try:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            status = response.status_code
            if 200 <= status < 300:
                return status
            excerpt = await _read_some(response)
            retry_after = _retry_after(response.headers.get("retry-after"))
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timed out: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"connection failed: {exc or type(exc).__name__}") from exc
    raise DeliveryError(
        f"receiver answered {status}" + (f": {excerpt!r}" if excerpt else ""),
        status_code=status,
        retryable=status >= 500 or status in RETRYABLE_STATUSES,
        retry_after=retry_after,
    )


async def _read_some(response: httpx.Response) -> str:
    """The start of an error body, without reading a huge one whole."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= _ERROR_BODY_CHARS:
            break
    return data[:_ERROR_BODY_CHARS].decode("utf-8", "replace").strip()


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the backoff decides instead


class WebhookNotifier:
    """POSTs the notification as JSON, signed when the channel has a secret."""

    def __init__(self, client: httpx.AsyncClient, *, text_limit: int, user_agent: str) -> None:
        self._client = client
        self._text_limit = text_limit
        self._user_agent = user_agent

    async def send(self, config: ChannelConfig, notification: Notification) -> int | None:
        """POST it to the channel's URL."""
        body = encode_json(webhook_payload(notification, self._text_limit))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent,
            TIMESTAMP_HEADER: str(int(notification.sent_at)),
            DELIVERY_HEADER: notification.delivery_id,
        }
        if config.secret:
            # The body carries the same timestamp, so the signature covers it too.
            headers[SIGNATURE_HEADER] = sign(config.secret, body)
        assert config.url is not None
        return await post_json(self._client, config.url, body, headers)


class SlackNotifier:
    """POSTs the notification to a Slack (or Slack-compatible) incoming webhook."""

    def __init__(self, client: httpx.AsyncClient, *, text_limit: int, user_agent: str) -> None:
        self._client = client
        self._text_limit = text_limit
        self._user_agent = user_agent

    async def send(self, config: ChannelConfig, notification: Notification) -> int | None:
        """POST the Block Kit message to the channel's URL."""
        body = encode_json(slack_payload(notification, self._text_limit))
        headers = {"Content-Type": "application/json", "User-Agent": self._user_agent}
        assert config.url is not None
        return await post_json(self._client, config.url, body, headers)


class EmailNotifier:
    """Sends the notification as a plain-text email through the configured SMTP relay.

    It uses the standard library's smtplib on a small dedicated thread pool:
    notifications are rare (one per group per interval), smtplib's socket
    timeout bounds every step, and no extra dependency is needed.
    """

    def __init__(
        self, smtp: SmtpSettings, executor: Executor, *, text_limit: int, subject_limit: int
    ) -> None:
        self._smtp = smtp
        self._executor = executor
        self._text_limit = text_limit
        self._subject_limit = subject_limit

    async def send(self, config: ChannelConfig, notification: Notification) -> int | None:
        """Send it to the channel's recipients."""
        if not self._smtp.configured:
            raise DeliveryError("smtp is not configured: set the smtp host", retryable=False)
        msg = email_message(
            notification,
            sender=self._smtp.sender,
            to=config.to,
            text_limit=self._text_limit,
            subject_limit=self._subject_limit,
        )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._send_sync, msg, config.to)

    def _send_sync(self, msg: EmailMessage, to: tuple[str, ...]) -> int:
        s = self._smtp
        where = f"{s.host}:{s.port}"
        try:
            client: smtplib.SMTP
            if s.ssl:
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                client.ehlo()
                if s.starttls and not s.ssl:
                    if not client.has_extn("starttls"):
                        raise DeliveryError(
                            f"smtp server {where} does not offer STARTTLS", retryable=False
                        )
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if s.username:
                    client.login(s.username, s.password or "")
                client.send_message(msg, from_addr=s.sender, to_addrs=list(to))
            return 250
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryError(
                f"smtp server {where} refused {', '.join(exc.recipients)}",
                status_code=codes[0] if codes else None,
                retryable=bool(codes) and all(400 <= c < 500 for c in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)  # fmt: skip
            raise DeliveryError(
                f"smtp server {where} answered {exc.smtp_code}: {text[:_ERROR_BODY_CHARS]}",
                status_code=exc.smtp_code,
                retryable=400 <= exc.smtp_code < 500,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"smtp server {where}: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp server {where}: {exc or type(exc).__name__}") from exc
