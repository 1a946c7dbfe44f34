"""Exponential backoff with jitter that defers to the server's Retry-After."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Backoff:
    """How often and how long to wait before retrying a request."""

    retries: int = 5
    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.1
    # A server asking for longer than this is asking for too long to wait inline.
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        wait = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        return wait * (1 + random.uniform(-self.jitter, self.jitter))


NO_RETRY = Backoff(retries=0)


def retry_after(response: httpx.Response, body: Any = None) -> float | None:
    """Seconds the server asks us to wait: `Retry-After` (seconds or date), else `retryAfter`."""
    header = response.headers.get("retry-after")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    if isinstance(body, dict):
        value = body.get("retryAfter")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0.0, float(value))
    return None
