"""Settings of the notification dispatcher, its retries and its SMTP relay."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed delivery is retried."""

    attempts: int = 5
    base: float = 1.0
    max_delay: float = 60.0
    # Spread retries of many deliveries apart: +/- this fraction of the delay.
    jitter: float = 0.1

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        delay = min(self.base * 2.0 ** (attempt - 1), self.max_delay)
        if self.jitter:
            delay *= 1 + random.uniform(-self.jitter, self.jitter)
        return min(delay, self.max_delay)


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP relay that email channels send through (server configuration)."""

    host: str = ""
    port: int = 587
    starttls: bool = True
    # Implicit TLS (port 465); exclusive with STARTTLS.
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "timberyard@localhost"
    timeout: float = 10.0

    @property
    def configured(self) -> bool:
        """Whether a relay host is set."""
        return bool(self.host)


@dataclass(frozen=True)
class AlertSettings:
    """Every knob of notification delivery, with production defaults."""

    # Base of the dashboard links in notifications: {public_url}/#/entry/{id}?project={p}.
    public_url: str = "http://127.0.0.1:8080"
    queue_size: int = 10_000
    # Entries fingerprinted per step of the worker (~40 µs each) before it yields.
    batch_size: int = 256
    # One notification per error group and channel per this many seconds.
    group_interval: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Seconds one delivery attempt may take, connection to last byte.
    timeout: float = 10.0
    # Deliveries in flight per channel, and waiting beyond those before drops.
    concurrency_per_channel: int = 4
    backlog_per_channel: int = 100
    # Real seconds between sweeps for folded occurrences whose interval ended.
    flush_period: float = 5.0
    # Seconds a channel list read from the store is trusted.
    channel_cache_ttl: float = 30.0
    text_limit: int = 2000
    subject_limit: int = 150
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    user_agent: str = "Timberyard-Notifier/0.1"
