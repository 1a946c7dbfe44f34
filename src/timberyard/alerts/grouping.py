"""Folding a batch of eligible entries into per-group, per-channel counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import SEVERITY
from .channels import Channel
from .fingerprint import fingerprint_of_title, group_title
from .records import GroupKey, Occurrences, entry_id, entry_ns


@dataclass
class ChannelShare:
    """The entries of one group in a batch that one channel is eligible for."""

    channel: Channel
    count: int
    last_entry: Mapping[str, Any]


@dataclass
class BatchGroup:
    """The entries of one error group within one batch."""

    key: GroupKey
    title: str
    first: Mapping[str, Any]
    first_ns: int
    last: Mapping[str, Any]
    last_ns: int
    level: str
    count: int = 0
    shares: dict[str, ChannelShare] = field(default_factory=dict)

    def occurrences(self) -> Occurrences:
        """What this batch adds to the stored group."""
        return Occurrences(
            key=self.key,
            title=self.title,
            service=str(self.first.get("service") or ""),
            error_name=str(self.first.get("error_name") or ""),
            level=self.level,
            count=self.count,
            first_seen=self.first_ns,
            last_seen=self.last_ns,
            first_entry_id=entry_id(self.first),
            last_entry_id=entry_id(self.last),
        )


class Batch:
    """Groups entries by fingerprint, counting them per eligible channel."""

    def __init__(self, org_id: str, now_ns: int) -> None:
        self.org_id = org_id
        self.now_ns = now_ns
        self.groups: dict[GroupKey, BatchGroup] = {}

    def add(self, entry: Mapping[str, Any], channels: list[Channel]) -> None:
        """Count one entry in its group, for each channel it is eligible for."""
        message = entry.get("message")
        title = group_title(message if isinstance(message, str) else str(message or ""))
        fp = fingerprint_of_title(entry.get("service"), entry.get("error_name"), title)
        key = GroupKey(self.org_id, str(entry.get("project_id") or ""), fp)
        ns = entry_ns(entry, self.now_ns)
        level = str(entry.get("level") or "info")
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = BatchGroup(key, title, entry, ns, entry, ns, level)
        group.count += 1
        if ns < group.first_ns:
            group.first, group.first_ns = entry, ns
        if ns >= group.last_ns:
            group.last, group.last_ns = entry, ns
        if SEVERITY.get(level, 0) > SEVERITY.get(group.level, 0):
            group.level = level
        for channel in channels:
            share = group.shares.get(channel.id)
            if share is None:
                group.shares[channel.id] = ChannelShare(channel, 1, entry)
            else:
                share.count += 1
                share.last_entry = entry
