"""What alerting needs from the metadata store, and in-memory implementations."""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ..model import SEVERITY
from .channels import Channel, ChannelConfig
from .records import (
    Delivery,
    EntrySnapshot,
    ErrorGroup,
    GroupKey,
    Occurrences,
    PendingNotice,
)


class ChannelSource(Protocol):
    """The channels of an organisation."""

    async def channels(self, org_id: str) -> Sequence[Channel]:
        """Every channel of the organisation, enabled or not."""
        ...


class GroupStore(Protocol):
    """Error groups and, per group and channel, when it was last notified."""

    async def record(self, occurrences: Occurrences) -> ErrorGroup:
        """Add occurrences to their group, creating it; the group's new totals."""
        ...

    async def fold(
        self,
        key: GroupKey,
        channel_id: str,
        count: int,
        entry: EntrySnapshot,
        now: float,
        interval: float,
    ) -> int:
        """Fold `count` occurrences into the channel's pending count for the group.

        If the channel was never notified of the group, or `interval` seconds
        have passed since, claim them in the same transaction: reset the pending
        count, set last_notified_at to `now` and return the count to notify.
        Otherwise return 0. Atomic, so that two nodes never both notify.
        """
        ...

    async def take_due(self, now: float, limit: int = 100) -> list[PendingNotice]:
        """Claim pending counts whose interval has ended, as `fold` claims them."""
        ...

    async def get(self, key: GroupKey) -> ErrorGroup | None:
        """One group, or None."""
        ...

    async def groups(self, org_id: str, project_id: str | None = None) -> list[ErrorGroup]:
        """The groups of an organisation (or one project), most recently seen first."""
        ...


class DeliveryLog(Protocol):
    """Delivery attempts per channel."""

    async def record(self, channel_id: str, delivery: Delivery) -> None:
        """Append one attempt to the channel's log."""
        ...

    async def recent(self, channel_id: str, limit: int = 20) -> list[Delivery]:
        """The channel's latest attempts, newest first."""
        ...


class MemoryChannels:
    """A ChannelSource held in memory."""

    def __init__(self) -> None:
        self._by_org: dict[str, dict[str, Channel]] = {}

    def add(self, org_id: str, config: ChannelConfig, channel_id: str | None = None) -> Channel:
        """Store a validated channel config under a new (or the given) id."""
        channel = Channel(channel_id or f"ch_{secrets.token_hex(6)}", org_id, config)
        self._by_org.setdefault(org_id, {})[channel.id] = channel
        return channel

    async def channels(self, org_id: str) -> Sequence[Channel]:
        """Every channel of the organisation."""
        return list(self._by_org.get(org_id, {}).values())


@dataclass
class _Notice:
    last_notified_at: float | None
    interval: float
    folded: int
    entry: EntrySnapshot


class MemoryGroupStore:
    """A GroupStore held in memory."""

    def __init__(self) -> None:
        self._groups: dict[GroupKey, ErrorGroup] = {}
        self._notices: dict[tuple[GroupKey, str], _Notice] = {}

    async def record(self, occurrences: Occurrences) -> ErrorGroup:
        """Add occurrences to their group, creating it."""
        o = occurrences
        group = self._groups.get(o.key)
        if group is None:
            group = ErrorGroup(
                o.key, o.title, o.service, o.error_name, o.level, 0,
                o.first_seen, o.last_seen, o.first_entry_id, o.last_entry_id,
            )  # fmt: skip
            self._groups[o.key] = group
        group.count += o.count
        group.first_seen = min(group.first_seen, o.first_seen)
        if o.last_seen >= group.last_seen:
            group.last_seen, group.last_entry_id = o.last_seen, o.last_entry_id
        if SEVERITY.get(o.level, 0) > SEVERITY.get(group.level, 0):
            group.level = o.level
        return replace(group)

    async def fold(
        self,
        key: GroupKey,
        channel_id: str,
        count: int,
        entry: EntrySnapshot,
        now: float,
        interval: float,
    ) -> int:
        """Fold occurrences; the count to notify now, or 0."""
        notice = self._notices.get((key, channel_id))
        if notice is None:
            notice = self._notices[(key, channel_id)] = _Notice(None, interval, 0, entry)
        notice.folded += count
        notice.entry = entry
        notice.interval = interval
        last = notice.last_notified_at
        if last is not None and now - last < interval:
            return 0
        claimed, notice.folded, notice.last_notified_at = notice.folded, 0, now
        return claimed

    async def take_due(self, now: float, limit: int = 100) -> list[PendingNotice]:
        """Claim pending counts whose interval has ended."""
        due: list[PendingNotice] = []
        for (key, channel_id), notice in self._notices.items():
            if len(due) >= limit:
                break
            last = notice.last_notified_at
            if notice.folded and (last is None or now - last >= notice.interval):
                due.append(PendingNotice(key, channel_id, notice.folded, notice.entry))
                notice.folded, notice.last_notified_at = 0, now
        return due

    async def get(self, key: GroupKey) -> ErrorGroup | None:
        """One group, or None."""
        group = self._groups.get(key)
        return replace(group) if group else None

    async def groups(self, org_id: str, project_id: str | None = None) -> list[ErrorGroup]:
        """The groups of an organisation (or project), most recently seen first."""
        found = [
            replace(g)
            for k, g in self._groups.items()
            if k.org_id == org_id and (project_id is None or k.project_id == project_id)
        ]
        return sorted(found, key=lambda g: g.last_seen, reverse=True)


class MemoryDeliveryLog:
    """A DeliveryLog held in memory, keeping the latest `keep` attempts per channel."""

    def __init__(self, keep: int = 200) -> None:
        self._keep = keep
        self._log: dict[str, deque[Delivery]] = {}

    async def record(self, channel_id: str, delivery: Delivery) -> None:
        """Append one attempt."""
        log = self._log.get(channel_id)
        if log is None:
            log = self._log[channel_id] = deque(maxlen=self._keep)
        log.append(delivery)

    async def recent(self, channel_id: str, limit: int = 20) -> list[Delivery]:
        """The latest attempts, newest first."""
        log = self._log.get(channel_id, ())
        return list(reversed(log))[:limit]
