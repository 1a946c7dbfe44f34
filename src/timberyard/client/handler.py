"""`TimberyardHandler`: a logging handler that ships records in the background."""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import weakref
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from .client import Client
from .errors import APIError, ClientError, ConnectionFailed
from .records import record_entry
from .retry import NO_RETRY, Backoff


@dataclass
class HandlerStats:
    """What became of the records a handler was given (updated as it works)."""

    queued: int = 0  # records taken into the queue
    sent: int = 0  # entries the server accepted
    rejected: int = 0  # entries the server refused as invalid
    dropped: int = 0  # records dropped: queue full (oldest first) or handler closed
    failed: int = 0  # entries given up on after retries, or left at close
    batches: int = 0  # requests that succeeded
    retries: int = 0  # requests repeated after a failure
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict."""
        return asdict(self)


class TimberyardHandler(logging.Handler):
    """Send log records to Timberyard without ever blocking or raising into the caller.

    Records are turned into entries at once, queued (bounded; when full the oldest
    is dropped), and sent by a background thread in batches of up to `batch_size`
    or every `flush_interval` seconds, with retries and backoff. Failures are
    counted in `stats`, never raised. `close()` (also run at exit) sends what is
    left, waiting at most `close_timeout` seconds.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        service: str | None = None,
        environment: str | None = None,
        dataset: str | None = None,
        session_id: str | None = None,
        fields: dict[str, Any] | None = None,
        host: str | None = None,
        level: int = logging.NOTSET,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        queue_size: int = 10_000,
        timeout: float = 5.0,
        backoff: Backoff | None = None,
        close_timeout: float = 5.0,
        **static: Any,
    ) -> None:
        super().__init__(level)
        self.service = service
        self.batch_size = max(1, min(batch_size, 1000))
        self.flush_interval = flush_interval
        self.queue_size = max(1, queue_size)
        self.backoff = backoff or Backoff()
        self.close_timeout = close_timeout
        self.stats = HandlerStats()
        base: dict[str, Any] = {"host": host or socket.gethostname(), **static}
        for name, value in (
            ("environment", environment),
            ("dataset", dataset),
            ("sessionId", session_id),
        ):
            if value is not None:
                base[name] = value
        if fields:
            base["fields"] = dict(fields)
        self._base = base
        self._target = (url, key, timeout)
        self._closing = False
        self._closed = False
        self._deadline = 0.0
        self._start()
        ref = weakref.ref(self)
        atexit.register(_close_at_exit, ref)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: _restart_in_child(ref))

    def _start(self) -> None:
        """A fresh queue, connection pool and worker thread."""
        # The handler retries itself, so that close() can cut a backoff short.
        self._client = Client(*self._target, backoff=NO_RETRY)
        self._queue: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._inflight = 0
        self._flush_wanted = False
        self._unreachable = False  # the last attempt could not reach the server
        self._worker = threading.Thread(target=self._run, name="timberyard-handler", daemon=True)
        self._worker.start()

    # -- the application's side: quick, never raises, never waits on the network --

    def emit(self, record: logging.LogRecord) -> None:
        """Queue a record; drops the oldest queued one when the queue is full."""
        if threading.current_thread() is self._worker:
            return  # the HTTP library logging our own requests would feed back forever
        if self._closed:
            with self._cond:
                self.stats.dropped += 1
            return
        try:
            message = self.format(record) if self.formatter else record.getMessage()
            entry = record_entry(record, message, self._base, self.service)
        except Exception:
            self.handleError(record)  # a formatting bug in the caller, as logging reports it
            return
        with self._cond:
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self.stats.dropped += 1
            self._queue.append(entry)
            self.stats.queued += 1
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Send what is queued now; wait up to `timeout` (default `close_timeout`) seconds."""
        self.drain(timeout)

    def drain(self, timeout: float | None = None) -> bool:
        """Like flush(); whether the queue emptied and the last batch finished in time."""
        wait = self.close_timeout if timeout is None else timeout
        with self._cond:
            if not self._worker.is_alive():
                return not self._queue
            self._flush_wanted = True
            self._cond.notify_all()
            if self._unreachable:
                return False  # no point holding the caller (often: the exit) for a dead server
            return self._cond.wait_for(lambda: not self._queue and not self._inflight, timeout=wait)

    def close(self) -> None:
        """Send what is left (for at most `close_timeout` seconds) and stop the worker."""
        with self._cond:
            first = not self._closed
            if first:
                self._closed = self._closing = True
                self._deadline = time.monotonic() + self.close_timeout
                self._cond.notify_all()
        if first:
            if self._worker is not threading.current_thread():
                self._worker.join(self.close_timeout + 1.0)
            with self._cond:
                self.stats.failed += len(self._queue)
                self._queue.clear()
            if not self._worker.is_alive():
                self._client.close()
        super().close()

    # -- the worker's side --

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(self._ready, timeout=self.flush_interval)
                count = min(len(self._queue), self.batch_size)
                batch = [self._queue.popleft() for _ in range(count)]
                if not self._queue:
                    self._flush_wanted = False
                self._inflight = len(batch)
                if not batch:
                    self._cond.notify_all()
                    if self._closing:
                        return
                    continue
            try:
                self._send(batch)
            except Exception as exc:  # a bug here must not stop the worker
                self._count(failed=len(batch), error=f"{type(exc).__name__}: {exc}")
            with self._cond:
                self._inflight = 0
                self._cond.notify_all()

    def _ready(self) -> bool:
        return self._closing or self._flush_wanted or len(self._queue) >= self.batch_size

    def _send(self, batch: list[dict[str, Any]]) -> None:
        attempt = 0
        while True:
            try:
                result = self._client.ingest(batch)
            except ClientError as exc:
                self._unreachable = isinstance(exc, ConnectionFailed)
                attempt += 1
                retryable = exc.retryable if isinstance(exc, APIError) else True
                if isinstance(exc, APIError) and exc.code == "VALIDATION_ERROR":
                    self._count(rejected=len(batch), error=str(exc))
                    return
                if not retryable or attempt > self.backoff.retries:
                    self._count(failed=len(batch), error=str(exc))
                    return
                after = exc.retry_after if isinstance(exc, APIError) else None
                if not self._pause(self.backoff.delay(attempt, after)):
                    self._count(failed=len(batch), error=str(exc))
                    return
                self._count(retries=1, error=str(exc))
                continue
            self._unreachable = False
            errors = result.get("errors") or []
            self._count(
                sent=int(result.get("accepted", len(batch))),
                rejected=int(result.get("rejected", 0)),
                batches=1,
                error=f"rejected: {errors[0].get('error')}" if errors else None,
            )
            return

    def _pause(self, seconds: float) -> bool:
        """Wait before a retry; False when closing leaves no time for it."""
        end = time.monotonic() + seconds
        with self._cond:
            while True:
                if self._closing and (end > self._deadline or self._unreachable):
                    return False
                now = time.monotonic()
                if now >= end:
                    return True
                self._cond.wait(end - now)

    def _count(self, error: str | None = None, **counts: int) -> None:
        with self._cond:
            for name, value in counts.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)
            if error is not None:
                self.stats.last_error = error


def _close_at_exit(ref: weakref.ref[TimberyardHandler]) -> None:
    handler = ref()
    if handler is not None:
        handler.close()


def _restart_in_child(ref: weakref.ref[TimberyardHandler]) -> None:
    # A forked child has no worker thread, and the parent's queue is the parent's to send.
    handler = ref()
    if handler is not None and not handler._closed:
        handler._start()
