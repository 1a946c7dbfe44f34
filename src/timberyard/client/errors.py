"""The client's errors: one base class, API answers and unreachable servers."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of every error the Timberyard client raises."""


class ConnectionFailed(ClientError):
    """The server could not be reached (refused, timed out, reset)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason


class APIError(ClientError):
    """The server answered with an error status; `message` is its `error` text."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status}: {message}" if message else f"HTTP {status}")
        self.status = status
        self.message = message
        self.code = code
        self.body = body or {}
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later (rate limit or server trouble)."""
        return self.status == 429 or self.status >= 500
