"""The one ingestion use-case: raw entries in, durable rows out.

Every surface (`/v1/logs` in every format, the browser and tracking endpoints, and
each shipper protocol) decodes its own protocol into raw entries in the input
vocabulary of SPEC §1, calls `Ingestor.accept` (or `prepare` then `commit` when
it must look at the rows in between, as seed 001's debounce does), and encodes
its own answer from the `Accepted` it gets back.

The sequence is: normalise (compiled fast path, `model.normalise` for whatever it
is unsure of) and fingerprint errors; refuse the request under `strict` or when
nothing is valid; count against the monthly quota; append to the WAL (a return
means fsynced); hand the rows to the alert dispatcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import formats
from ..alerts.fingerprint import fingerprint
from ..clock import Clock
from ..errors import ParseError, TimberyardError, ValidationIssue
from ..limits import Limiter
from ..model import ERROR_SEVERITY, Limits, normalise, normalise_many, parse_level
from ..storage.meta import KeyInfo
from .pipeline import Pipeline

# Invalid entries reported back per request; the rest are only counted.
MAX_REPORTED_ERRORS = 100
# Bodies past this size are parsed in a worker thread so small requests keep flowing.
OFFLOAD_BYTES = 1024 * 1024

Row = dict[str, Any]


@dataclass
class Prepared:
    """Canonical rows of the valid entries and one error per invalid entry, not yet stored."""

    rows: list[Row]
    errors: list[dict[str, Any]]
    # Total entries seen (valid + invalid), as the surface counted them.
    entries: int = 0


@dataclass
class Accepted:
    """What a request stored: its rows (with ids), the rejected entries and the quota state."""

    rows: list[Row]
    errors: list[dict[str, Any]] = field(default_factory=list)
    limit_reached: bool = False

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    def reported_errors(self) -> list[dict[str, Any]]:
        """The first MAX_REPORTED_ERRORS rejected entries, for a response body."""
        return self.errors[:MAX_REPORTED_ERRORS]


class EntryMapping(Protocol):
    """Entries in a protocol's own shape (ECS documents, say), normalised through it.

    `fast` returns, for each entry, the row that `normalise(raw(entries, i))` would,
    or None where it is unsure; `raw` is the protocol's one definition of the entry
    in our input vocabulary, for those.
    """

    def fast(
        self,
        entries: list[Any],
        defaults: dict[str, str],
        limits: Limits,
        now_ns: int,
        base: dict[str, Any],
    ) -> list[Row | None]: ...

    def raw(self, entries: list[Any], position: int) -> Any: ...


def parse_defaults(values: dict[str, str | None]) -> dict[str, str]:
    """Request-wide defaults (`service`, `environment`, `level`, `dataset`) checked once.

    Empty values are dropped; a level that is not one of ours is a 400.
    """
    defaults = {name: value for name, value in values.items() if value}
    if "level" in defaults:
        try:
            defaults["level"] = parse_level(defaults["level"])
        except ValidationIssue as issue:
            raise TimberyardError(
                "BAD_REQUEST", f"invalid level query parameter: {issue.reason}"
            ) from None
    return defaults


def invalid_entries(errors: list[dict[str, Any]]) -> TimberyardError:
    """The VALIDATION_ERROR of a request refused for its invalid entries."""
    first = errors[0]
    where = f"line {first['line']}" if "line" in first else f"entry {first['index']}"
    count = f"{len(errors)} invalid entr{'y' if len(errors) == 1 else 'ies'}"
    return TimberyardError(
        "VALIDATION_ERROR",
        f"{count}; {where}: {first['error']}",
        issues=errors[:MAX_REPORTED_ERRORS],
    )


class Ingestor:
    """Normalises, fingerprints, counts, stores and dispatches entries of one grant."""

    def __init__(
        self,
        pipeline: Pipeline,
        limiter: Limiter,
        dispatcher: Any,
        clock: Clock,
        limits: Limits,
    ) -> None:
        self.pipeline = pipeline
        self.limiter = limiter
        self.dispatcher = dispatcher
        self.clock = clock
        self.limits = limits
        # For the metrics: entries per (surface, accepted|rejected), parsed bytes per surface.
        self.entry_counts: dict[tuple[str, str], int] = {}
        self.byte_counts: dict[str, int] = {}

    # -- admission ------------------------------------------------------------

    async def admit(
        self, grant: KeyInfo, client: str | None = None, client_per_minute: int | None = None
    ) -> None:
        """Count one request against the rate limits (429 when over); call before reading."""
        await self.limiter.check_rate_async(
            grant.org_id, grant.key_id, client=client, client_per_minute=client_per_minute
        )

    # -- decoding helpers --------------------------------------------------------

    def parse(
        self, body: bytes, fmt: str, limits: Limits | None = None, now_ns: int | None = None
    ) -> formats.Parsed:
        """A body of one of Timberyard's own formats as raw entries; PARSE_ERROR or 400."""
        limits = limits or self.limits
        now_ns = self.clock.now_ns() if now_ns is None else now_ns
        try:
            # The parser stops past the limit, so a refused body costs no more than
            # parsing limit + 1 entries (5 million gzipped lines fit in 10 KB).
            parsed = formats.parser(fmt)(body, now_ns, max_entries=limits.max_entries)
        except ParseError as exc:
            raise exc.to_api() from None
        if parsed.truncated:
            raise too_many(f"more than {limits.max_entries}", limits)
        check_count(len(parsed.entries), limits)
        return parsed

    # -- the use-case -------------------------------------------------------------

    def prepare(
        self,
        grant: KeyInfo,
        raw_entries: Sequence[Any],
        *,
        defaults: dict[str, str] | None = None,
        strict: bool = False,
        lines: list[int] | None = None,
        limits: Limits | None = None,
        now_ns: int | None = None,
        mapping: EntryMapping | None = None,
    ) -> Prepared:
        """Normalise and fingerprint; VALIDATION_ERROR under `strict` or when none is valid.

        With a `mapping`, the entries are in a protocol's shape and it makes them ours.
        """
        limits = limits or self.limits
        now_ns = self.clock.now_ns() if now_ns is None else now_ns
        entries = raw_entries if isinstance(raw_entries, list) else list(raw_entries)
        check_count(len(entries), limits)
        rows, errors = normalise_rows(
            entries, defaults or {}, limits, now_ns, grant.project_id, lines, mapping
        )
        if errors and (strict or not rows):
            raise invalid_entries(errors)
        return Prepared(rows, errors, len(entries))

    async def commit(self, grant: KeyInfo, prepared: Prepared, surface: str = "logs") -> Accepted:
        """Count against the quota, make durable (fsynced on return), dispatch alerts.

        Rows that already carry an `id` (taken from `assign_ids`) keep it. `surface`
        names the protocol the entries came through (`logs`, `browser`, `tracking`,
        `otlp`, `loki`, `elastic`, `syslog`), for accounting.
        """
        rows = prepared.rows
        limit_reached = await self.limiter.reserve_async(grant.org_id, len(rows))
        try:
            await self.pipeline.submit(
                grant.project_id, rows, ids_assigned=bool(rows) and "id" in rows[0]
            )
        except BaseException:
            self.limiter.release(grant.org_id, len(rows))
            raise
        # Durable now: notifications are decided off the request path (never blocks).
        self.dispatcher.submit(grant.org_id, rows)
        counts = self.entry_counts
        for outcome, n in (("accepted", len(rows)), ("rejected", len(prepared.errors))):
            if n:
                counts[surface, outcome] = counts.get((surface, outcome), 0) + n
        return Accepted(rows, prepared.errors, limit_reached)

    async def accept(
        self,
        grant: KeyInfo,
        raw_entries: Sequence[Any],
        *,
        defaults: dict[str, str] | None = None,
        strict: bool = False,
        lines: list[int] | None = None,
        limits: Limits | None = None,
        surface: str = "logs",
    ) -> Accepted:
        """Store the valid entries of one request; see the module docstring for the sequence."""
        prepared = self.prepare(
            grant, raw_entries, defaults=defaults, strict=strict, lines=lines, limits=limits
        )
        return await self.commit(grant, prepared, surface)

    async def accept_body(
        self,
        grant: KeyInfo,
        body: bytes,
        fmt: str,
        *,
        defaults: dict[str, str] | None = None,
        strict: bool = False,
        limits: Limits | None = None,
        decode: Callable[[bytes, int], formats.Parsed] | None = None,
        surface: str = "logs",
    ) -> Accepted:
        """Parse a body (a format of ours, or `decode` for a protocol's own) and accept it."""
        now_ns = self.clock.now_ns()
        self.byte_counts[surface] = self.byte_counts.get(surface, 0) + len(body)

        def parse_and_prepare() -> Prepared:
            if decode is not None:
                try:
                    parsed = decode(body, now_ns)
                except ParseError as exc:
                    raise exc.to_api() from None
            else:
                parsed = self.parse(body, fmt, limits, now_ns)
            return self.prepare(
                grant,
                parsed.entries,
                defaults=defaults,
                strict=strict,
                lines=parsed.lines,
                limits=limits,
                now_ns=now_ns,
            )

        if len(body) > OFFLOAD_BYTES:
            prepared = await asyncio.to_thread(parse_and_prepare)
        else:
            prepared = parse_and_prepare()
        return await self.commit(grant, prepared, surface)

    def assign_ids(self, count: int) -> int:
        """The first of `count` fresh entry ids (for a surface that needs them before commit)."""
        return self.pipeline.assign_ids(count)


def check_count(count: int, limits: Limits) -> None:
    """400 for a request without entries or with more than the limit."""
    if count == 0:
        raise TimberyardError("VALIDATION_ERROR", "the body holds no entries", issues=[])
    if count > limits.max_entries:
        raise too_many(str(count), limits)


def too_many(count: str, limits: Limits) -> TimberyardError:
    """The 400 of a request with more entries than the limit (`count` as said to the client)."""
    return TimberyardError(
        "VALIDATION_ERROR",
        f"{count} entries in one request; the limit is {limits.max_entries}",
        issues=[],
        limit=limits.max_entries,
    )


def normalise_rows(
    entries: list[Any],
    defaults: dict[str, str],
    limits: Limits,
    now_ns: int,
    project_id: str,
    lines: list[int] | None = None,
    mapping: EntryMapping | None = None,
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Canonical rows of the valid entries (errors fingerprinted), and one error per invalid one."""
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    base = {"project_id": project_id, "received_ms": now_ns // 1_000_000}
    if mapping is None:
        fast = normalise_many(entries, defaults=defaults, limits=limits, now_ns=now_ns, base=base)
    else:
        fast = mapping.fast(entries, defaults, limits, now_ns, base)
    for index, row in enumerate(fast):
        if row is None:
            raw = entries[index] if mapping is None else mapping.raw(entries, index)
            try:
                row = normalise(raw, defaults=defaults, limits=limits, now_ns=now_ns, base=base)
            except ValidationIssue as issue:
                error: dict[str, Any] = {"index": index, "error": issue.reason}
                if lines is not None:
                    error["line"] = lines[index]
                errors.append(error)
                continue
        if row["severity"] >= ERROR_SEVERITY:
            row["fingerprint"] = fingerprint(
                row.get("service"), row.get("error_name"), row["message"]
            )
        rows.append(row)
    return rows, errors
