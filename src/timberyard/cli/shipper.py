"""Send chunks to POST /v1/logs and account for every entry: accepted, rejected or failed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ..client import APIError, Client, ClientError
from .chunks import LINE_FORMATS, Chunk
from .common import describe
from .progress import Progress

MAX_REASONS = 10
# A chunk whose lines keep failing to parse is given up after this many.
MAX_RECOVERIES = 100
# Statuses that every further request would get too: stop at once.
FATAL_STATUSES = (401, 402, 403, 404, 415)
_PARSE_PREFIX = re.compile(r"^Failed to parse (line \d+|body): ")


@dataclass
class Outcome:
    """What became of one chunk."""

    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    requests: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class Totals(Outcome):
    """The sum of every chunk's outcome, and why sending stopped early if it did."""

    more_reasons: int = 0
    aborted: str | None = None
    nbytes: int = 0

    @property
    def entries(self) -> int:
        """Entries accounted for so far."""
        return self.accepted + self.rejected + self.failed

    def add(self, outcome: Outcome, nbytes: int = 0) -> None:
        """Add one chunk's outcome."""
        self.accepted += outcome.accepted
        self.rejected += outcome.rejected
        self.failed += outcome.failed
        self.requests += outcome.requests
        self.nbytes += nbytes
        room = MAX_REASONS - len(self.reasons)
        self.reasons.extend(outcome.reasons[: max(0, room)])
        self.more_reasons += max(0, len(outcome.reasons) - max(0, room))


class Shipper:
    """Send chunks with a few requests in flight; parse errors drop only their line."""

    def __init__(
        self,
        api: Client,
        defaults: dict[str, Any],
        progress: Progress,
        concurrency: int = 1,
    ) -> None:
        self.api = api
        self.defaults = defaults
        self.progress = progress
        self.concurrency = max(1, concurrency)
        self.started = time.monotonic()

    def run(self, chunks: Iterable[Chunk]) -> Totals:
        """Send every chunk; stops at the first error that every request would get."""
        totals = Totals()
        try:
            if self.concurrency == 1:
                for chunk in chunks:
                    totals.add(self.ship(chunk), chunk.nbytes)
                    self._show(totals)
            else:
                self._run_parallel(chunks, totals)
        except ClientError as exc:
            totals.aborted = describe(exc)
        self.progress.finish()
        return totals

    def _run_parallel(self, chunks: Iterable[Chunk], totals: Totals) -> None:
        pending: dict[Future[Outcome], int] = {}
        fatal: BaseException | None = None
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="timberyard-send") as pool:
            try:
                for chunk in chunks:
                    # Read ahead no further than the requests in flight need.
                    while len(pending) >= self.concurrency * 2 and fatal is None:
                        fatal = self._collect(pending, totals)
                    if fatal is not None:
                        break
                    pending[pool.submit(self.ship, chunk)] = chunk.nbytes
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            finally:
                # What is in flight still counts, even when sending stops early.
                while pending:
                    fatal = self._collect(pending, totals) or fatal
        if fatal is not None:
            raise fatal

    def _collect(self, pending: dict[Future[Outcome], int], totals: Totals) -> BaseException | None:
        """Add the outcomes of finished requests; the first error of one, if any."""
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        error: BaseException | None = None
        for future in done:
            nbytes = pending.pop(future)
            if future.cancelled():
                continue
            if future.exception() is not None:
                error = error or future.exception()
                continue
            totals.add(future.result(), nbytes)
        self._show(totals)
        return error

    def _show(self, totals: Totals, force: bool = False) -> None:
        self.progress.update(totals.entries, totals.rejected, totals.nbytes, force)

    def ship(self, chunk: Chunk) -> Outcome:
        """Send one chunk, splitting or trimming it as the server's answers require."""
        out = Outcome()
        queue = [chunk]
        recoveries = 0
        while queue:
            part = queue.pop()
            out.requests += 1
            try:
                result = self.api.ingest_raw(part.body(), part.fmt, **self.defaults)
            except APIError as exc:
                if exc.status in FATAL_STATUSES:
                    raise
                line = exc.body.get("line")
                if exc.code == "PARSE_ERROR" and isinstance(line, int) and part.fmt in LINE_FORMATS:
                    record = part.record_at(line)
                    if record is not None and recoveries < MAX_RECOVERIES:
                        # Only this record is bad: report it and send the others again.
                        recoveries += 1
                        out.rejected += 1
                        out.reasons.append(f"{part.locate(line)}: {_reason(exc.message)}")
                        rest = part.without(record)
                        if rest is not None:
                            queue.append(rest)
                        continue
                if _too_big(exc) and len(part.records) > 1 and not part.raw:
                    queue.extend(reversed(part.halves()))
                    continue
                issues = exc.body.get("issues")
                if exc.code == "VALIDATION_ERROR" and isinstance(issues, list) and issues:
                    self._rejections(part, issues, out)
                    out.rejected += max(part.count, len(issues))
                    continue
                count = max(part.count, 1)
                if exc.code == "PARSE_ERROR":
                    out.rejected += count
                    where = part.locate(line) if isinstance(line, int) else part.span()
                    out.reasons.append(f"{where}: {_reason(exc.message)}")
                else:
                    out.failed += count
                    out.reasons.append(f"{part.span()}: {describe(exc)}")
                continue
            accepted = int(result.get("accepted", result.get("count", 0)))
            out.accepted += accepted
            out.rejected += int(result.get("rejected", 0))
            self._rejections(part, result.get("errors") or [], out)
        return out

    @staticmethod
    def _rejections(part: Chunk, errors: list[Any], out: Outcome) -> None:
        for error in errors[:MAX_REASONS]:
            if isinstance(error, dict):
                where = part.locate(error.get("line"), error.get("index"))
                out.reasons.append(f"{where}: {error.get('error')}")


def _reason(message: str) -> str:
    """The server's parse error without its chunk-relative line number."""
    return _PARSE_PREFIX.sub("", message)


def _too_big(exc: APIError) -> bool:
    """Whether the server refused the request for its size or entry count."""
    return exc.status == 413 or (exc.code == "VALIDATION_ERROR" and "limit" in exc.body)
