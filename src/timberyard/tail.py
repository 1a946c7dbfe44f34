"""The live tail: one fan-out of newly durable rows to every subscriber of a project.

The ingestion pipeline calls `Broker.publish(project_id, rows)` once rows are
durable (in id order). The broker keeps, per project, the recent rows as a ring
of chunks (for `Last-Event-ID` resume) and hands each subscriber the rows its
predicate accepts. A subscriber that falls too far behind is dropped and told
to resume, rather than buffered without bound.

Resume is by id: ids increase in arrival order, so "every matching entry with
id > last" is exact. `Replay` reads them from the ring when the ring still
holds everything after that id, else from the store and then the ring.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from .errors import TimberyardError
from .model import CAMEL, iso_from_ns
from .storage.entries import EntryStore
from .storage.filters import EntryFilter as Filter
from .storage.reader import NAMES, format_id

Row = dict[str, Any]
Predicate = Callable[[Row], bool]

# Rows per store query while replaying, and at most this many per connection;
# past it the stream ends with a `reconnect` event and the client resumes.
REPLAY_PAGE = 1000
REPLAY_LIMIT = 10_000
SETTLE_SECONDS = 2.0
HARD_CAP = 4


class Subscriber:
    """One live tail: its project, its predicate and the matched rows not yet sent."""

    __slots__ = (
        "project_id",
        "match",
        "limit",
        "pending",
        "pending_rows",
        "overflowed",
        "resume_after",
        "wake",
    )

    def __init__(self, project_id: str, match: Predicate, limit: int) -> None:
        self.project_id = project_id
        self.match = match
        self.limit = limit
        self.pending: deque[list[Row]] = deque()
        self.pending_rows = 0
        self.overflowed = False
        # On overflow: the id just before the first matched row not handed out.
        self.resume_after = 0
        self.wake = asyncio.Event()

    def push(self, rows: list[Row]) -> bool:
        """Queue matched rows; False (and the subscriber is done) when that overflows."""
        if self.pending_rows + len(rows) > self.limit:
            self.overflowed = True
            self.resume_after = (self.pending[0] if self.pending else rows)[0]["id"] - 1
            self.pending.clear()
            self.pending_rows = 0
            self.wake.set()
            return False
        self.pending.append(rows)
        self.pending_rows += len(rows)
        self.wake.set()
        return True

    def take(self) -> list[list[Row]]:
        """Every queued chunk, oldest first."""
        chunks = list(self.pending)
        self.pending.clear()
        self.pending_rows = 0
        self.wake.clear()
        return chunks

    async def wait(self, timeout: float) -> bool:
        """Wait until rows are queued or the subscriber overflowed; False on timeout."""
        if not self.wake.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await self.wake.wait()
            except TimeoutError:
                return False
        return True


class _Ring:
    """Recent rows of one project as chunks (the lists published), oldest first."""

    __slots__ = ("project_id", "chunks", "rows", "first", "floor")

    def __init__(self, project_id: str, floor: int) -> None:
        self.project_id = project_id
        self.chunks: deque[tuple[float, list[Row]]] = deque()
        self.rows = 0
        self.first = 0  # sequence number of chunks[0]
        self.floor = floor  # every published row with id > floor is here

    def append(self, added: float, rows: list[Row]) -> int:
        """Add a chunk; returns its sequence number."""
        self.chunks.append((added, rows))
        self.rows += len(rows)
        return self.first + len(self.chunks) - 1

    def pop(self) -> int:
        """Drop the oldest chunk; returns how many rows went."""
        _, rows = self.chunks.popleft()
        self.first += 1
        self.rows -= len(rows)
        self.floor = max(self.floor, rows[-1]["id"])
        return len(rows)


class Broker:
    """Fans newly durable rows out to live tails; keeps recent rows for resume.

    Recent rows are kept per project up to `buffer_rows`, and in all up to
    `total_rows`, for at most `buffer_seconds`. Rows younger than
    `settle_seconds` stay past the row limits (up to HARD_CAP times them):
    they may not be in the store yet, and a resume can only read them here.
    """

    def __init__(
        self,
        *,
        max_subscribers: int = 100,
        buffer_rows: int = 20_000,
        total_rows: int = 200_000,
        buffer_seconds: float = 60.0,
        queue_rows: int = 10_000,
        heartbeat_seconds: float = 15.0,
        settle_seconds: float = SETTLE_SECONDS,
        replay_page: int = REPLAY_PAGE,
        replay_limit: int = REPLAY_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_subscribers = max_subscribers
        self.buffer_rows = buffer_rows
        self.total_rows = total_rows
        self.buffer_seconds = buffer_seconds
        self.queue_rows = queue_rows
        self.heartbeat_seconds = heartbeat_seconds
        self.settle_seconds = settle_seconds
        self.replay_page = replay_page
        self.replay_limit = replay_limit
        self.clock = clock
        self._rings: dict[str, _Ring] = {}
        # Every chunk in publish order: (added, ring, sequence number).
        self._order: deque[tuple[float, _Ring, int]] = deque()
        self._buffered = 0
        self._subscribers: dict[str, list[Subscriber]] = {}
        # Each row's event as sent, made once for all the tails it goes to.
        self._sent: dict[int, bytes] = {}
        self.sent_cache = queue_rows
        self.dropped = 0

    @classmethod
    def from_settings(cls, settings: Any) -> Broker:
        """A broker configured by the `tail_*` settings (defaults where one is absent)."""
        names = (
            "max_subscribers",
            "buffer_rows",
            "total_rows",
            "buffer_seconds",
            "queue_rows",
            "heartbeat_seconds",
        )
        values = {name: getattr(settings, f"tail_{name}", None) for name in names}
        return cls(**{name: value for name, value in values.items() if value is not None})

    # -- the pipeline's side -------------------------------------------------

    def publish(self, project_id: str, rows: list[Row]) -> None:
        """Take durable rows of one project (a pipeline listener; keeps `rows` by reference)."""
        if not rows:
            return
        now = self.clock()
        ring = self._rings.get(project_id)
        if ring is None:
            ring = self._rings[project_id] = _Ring(project_id, rows[0]["id"] - 1)
        self._order.append((now, ring, ring.append(now, rows)))
        self._buffered += len(rows)
        self._evict(ring, now)
        subscribers = self._subscribers.get(project_id)
        if subscribers:
            self._fan_out(subscribers, rows)

    def _evict(self, ring: _Ring, now: float) -> None:
        settled = now - self.settle_seconds
        limit = self.buffer_rows
        while ring.rows > limit and len(ring.chunks) > 1:
            if ring.chunks[0][0] > settled and ring.rows <= limit * HARD_CAP:
                break
            self._buffered -= ring.pop()
        oldest = now - self.buffer_seconds
        limit = self.total_rows
        order = self._order
        while order:
            added, owner, seq = order[0]
            if owner.first > seq:
                order.popleft()  # that chunk went with its project's limit
                continue
            buffered = self._buffered
            over = buffered > limit and (added <= settled or buffered > limit * HARD_CAP)
            if added >= oldest and not over or len(order) == 1:
                break
            order.popleft()
            self._buffered -= owner.pop()
            if not owner.chunks and self._rings.get(owner.project_id) is owner:
                del self._rings[owner.project_id]

    def _fan_out(self, subscribers: list[Subscriber], rows: list[Row]) -> None:
        if len(subscribers) == 1:
            sub = subscribers[0]
            match = sub.match
            matched = [row for row in rows if match(row)]
            if matched and not sub.push(matched):
                self._drop(sub)
            return
        # Row by row across subscribers: predicates share the decoding of one row.
        outs: list[list[Row]] = [[] for _ in subscribers]
        pairs = [(sub.match, out.append) for sub, out in zip(subscribers, outs, strict=True)]
        for row in rows:
            for match, add in pairs:
                if match(row):
                    add(row)
        for sub, out in zip(subscribers, outs, strict=True):
            if out and not sub.push(out):
                self._drop(sub)

    # -- the tails' side -----------------------------------------------------

    def subscribe(self, project_id: str, match: Predicate) -> Subscriber:
        """A new live tail of a project; RATE_LIMITED beyond the limit per project."""
        subscribers = self._subscribers.setdefault(project_id, [])
        if len(subscribers) >= self.max_subscribers:
            raise TimberyardError(
                "RATE_LIMITED",
                f"too many live tail subscribers for this project (limit {self.max_subscribers})",
                headers={"Retry-After": "5"},
                retryAfter=5,
                limit=self.max_subscribers,
            )
        sub = Subscriber(project_id, match, self.queue_rows)
        # Copy on write: a fan-out in progress keeps iterating the old list.
        self._subscribers[project_id] = [*subscribers, sub]
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Stop a live tail (idempotent)."""
        subscribers = self._subscribers.get(sub.project_id)
        if subscribers and sub in subscribers:
            rest = [other for other in subscribers if other is not sub]
            if rest:
                self._subscribers[sub.project_id] = rest
            else:
                del self._subscribers[sub.project_id]

    def _drop(self, sub: Subscriber) -> None:
        self.dropped += 1
        self.unsubscribe(sub)

    def recent(self, project_id: str, after_id: int) -> tuple[bool, list[list[Row]]]:
        """(whether the ring holds every row after `after_id`, its chunks that may)."""
        ring = self._rings.get(project_id)
        if ring is None:
            return False, []
        found: list[list[Row]] = []
        for _, rows in reversed(ring.chunks):
            if rows[-1]["id"] <= after_id:
                break
            found.append(rows)
        found.reverse()
        return ring.floor <= after_id, found

    def rendered(self, row: Row, render: Callable[[Row], bytes]) -> bytes:
        """`render(row)`, made once per row for every tail that sends it (keyed by id)."""
        key = row["id"]
        found = self._sent.get(key)
        if found is None:
            found = render(row)
            sent = self._sent
            if len(sent) >= self.sent_cache:
                del sent[next(iter(sent))]  # the oldest
            sent[key] = found
        return found

    def raise_floor(self, project_id: str, floor: int) -> None:
        """Say that the ring holds the project's rows only after `floor` (resumes read the
        store before it): rows of other processes before it were not handed to this one."""
        ring = self._rings.get(project_id)
        if ring is not None:
            ring.floor = max(ring.floor, floor)

    def tailed_projects(self) -> list[str]:
        """The projects that have a live tail here."""
        return list(self._subscribers)

    def subscribers(self, project_id: str) -> int:
        """How many live tails a project has."""
        return len(self._subscribers.get(project_id, ()))

    def stats(self) -> dict[str, int]:
        """Subscribers, buffered rows and dropped slow tails, for /health and tests."""
        return {
            "subscribers": sum(len(subs) for subs in self._subscribers.values()),
            "bufferedRows": self._buffered,
            "dropped": self.dropped,
        }


# -- entries as the API shows them ------------------------------------------------

# Row key and API key of every column to_entry() shows, in its order, after
# id, timestamp and time and before fields.
_ROW_KEYS = {"timestamp_ns": "ts_ns", "received_at": "received_ms"}
_SHOWN = [
    (_ROW_KEYS.get(name, name), CAMEL.get(name, name))
    for name in NAMES
    if name not in ("timestamp_ns", "id", "fields")
]
_NUMBERS = frozenset({"received_ms", "severity"})
_decode = msgspec.json.Decoder().decode
_second: tuple[int, str] = (-1, "")


def _time(ns: int) -> str:
    """iso_from_ns(ns, 9 or 3) as to_entry() writes it; the seconds' text is reused."""
    global _second
    seconds, rest = divmod(ns, 1_000_000_000)
    cached = _second
    if cached[0] != seconds:
        cached = _second = (seconds, iso_from_ns(seconds * 1_000_000_000, 0)[:-1])
    fraction = f"{rest:09d}" if ns % 1_000_000 else f"{rest:09d}"[:3]
    return f"{cached[1]}.{fraction}Z"


def row_entry(row: Row) -> dict[str, Any]:
    """A pipeline row as the API shows an entry: what to_entry() gives once it is stored."""
    ns = row.get("ts_ns") or 0
    entry: dict[str, Any] = {
        "id": format_id(row["id"]),
        "timestamp": ns // 1_000_000,
        "time": _time(ns),
    }
    get = row.get
    for key, shown in _SHOWN:
        value = get(key)
        if value is None:
            # Stored columns have defaults: 0, [], NULL, or "" (shown as None).
            value = 0 if key in _NUMBERS else [] if key == "tags" else None
        elif value == "":
            value = None
        entry[shown] = value
    raw = get("fields")
    entry["fields"] = _decode(raw) if raw else {}
    return entry




def stored_after(
    store: EntryStore,
    project_id: str,
    condition: tuple[str, dict[str, Any]],
    after_id: int,
    limit: int,
) -> list[tuple[int, dict[str, Any]]]:
    """(id, entry) of stored entries of a project matching a condition with id > after_id."""
    sql, params = condition
    return store.entries_after(
        Filter(project_id=project_id, condition=sql, params=params), after_id, limit
    )


class Replay:
    """The matching entries of a project after an id, in id order: ring, or store then ring.

    Iterate for batches of (id, entry); afterwards `complete` says whether
    everything was read, or the store had more than the broker's replay limit
    and the client must resume from `cursor`.
    """

    def __init__(
        self,
        broker: Broker,
        store: EntryStore,
        project_id: str,
        match: Predicate,
        condition: tuple[str, dict[str, Any]],
        after_id: int,
    ) -> None:
        self.broker = broker
        self.store = store
        self.project_id = project_id
        self.match = match
        self.condition = condition
        self.cursor = after_id
        self.page = broker.replay_page
        self.limit = broker.replay_limit
        self.complete = False

    async def __aiter__(self) -> AsyncIterator[list[tuple[int, dict[str, Any]]]]:
        read = 0
        while True:
            # The ring first: rows it holds after the store read are not lost.
            covered, chunks = self.broker.recent(self.project_id, self.cursor)
            if not covered:
                size = min(self.page, self.limit - read)
                stored = await asyncio.to_thread(
                    stored_after, self.store, self.project_id, self.condition, self.cursor, size
                )
                read += len(stored)
                if stored:
                    self.cursor = stored[-1][0]
                    yield stored
                if len(stored) == size:
                    if read >= self.limit:
                        return
                    continue
            batch = self.from_ring(chunks)
            if batch:
                yield batch
            self.complete = True
            return

    def from_ring(self, chunks: list[list[Row]]) -> list[tuple[int, dict[str, Any]]]:
        """Matching rows of these chunks after the cursor, as (id, entry)."""
        match, cursor = self.match, self.cursor
        batch = [
            (row["id"], row_entry(row))
            for rows in chunks
            for row in rows
            if row["id"] > cursor and match(row)
        ]
        if batch:
            self.cursor = batch[-1][0]
        return batch
