"""One HTTP session to a Timberyard server: auth, JSON, retries and error mapping."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from typing import Any, Self

import httpx

from .errors import APIError, ClientError, ConnectionFailed
from .retry import Backoff, retry_after

USER_AGENT = "timberyard-python/0.1"
# Bodies smaller than this are sent as they are: gzip would not pay for itself.
GZIP_MIN_BYTES = 1024


class Session:
    """Authenticated requests to one server; the base of `Client` and `AdminClient`."""

    def __init__(
        self,
        url: str,
        token: str | None,
        timeout: float = 5.0,
        *,
        backoff: Backoff | None = None,
        compress: bool = False,
        fail_fast: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.compress = compress
        # With fail_fast, a server that has never answered is not waited for: a
        # refused first connection means it is not running (the CLI's case).
        self.fail_fast = fail_fast
        self.answered = False
        self.sleep = sleep
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        retry: bool = True,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send a request and return its decoded JSON; retry 429, 5xx and lost connections."""
        headers = dict(headers or {})
        if content is not None and self.compress and len(content) >= GZIP_MIN_BYTES:
            content = gzip.compress(content, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.http.request(
                    method, path, content=content, headers=headers, **kwargs
                )
            except httpx.TransportError as exc:
                error: ClientError = connection_failed(self.url, exc, self.timeout)
                if self.fail_fast and not self.answered and isinstance(exc, httpx.ConnectError):
                    raise error from exc
                wait = self.backoff.delay(attempt)
            else:
                self.answered = True
                if response.status_code < 400:
                    return decode(response)
                failed = api_error(response)
                if not failed.retryable:
                    raise failed
                error, wait = failed, self.backoff.delay(attempt, failed.retry_after)
            if not retry or attempt > self.backoff.retries:
                raise error from error.__cause__
            self.sleep(wait)


def decode(response: httpx.Response) -> Any:
    """The JSON of a response, or its text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return {"text": response.text}


def api_error(response: httpx.Response) -> APIError:
    """The APIError of an error response, with the server's own message."""
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("error") or body.get("message") or "")
        code = body.get("code")
    else:
        message = response.text.strip()[:200]
        body, code = None, None
    if not message:
        message = response.reason_phrase or f"HTTP {response.status_code}"
    return APIError(
        response.status_code,
        message,
        code=code if isinstance(code, str) else None,
        body=body,
        retry_after=retry_after(response, body),
    )


def connection_failed(url: str, exc: httpx.TransportError, timeout: float) -> ConnectionFailed:
    """A one-line reason for a transport failure."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        reason = f"no answer within {timeout:g} s ({type(exc).__name__})"
    elif "refused" in text.lower():
        reason = "connection refused"
    elif "name or service not known" in text.lower() or "nodename" in text.lower():
        reason = "unknown host"
    else:
        reason = text
    failed = ConnectionFailed(url, reason)
    failed.__cause__ = exc
    return failed
