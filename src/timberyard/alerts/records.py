"""The values that flow through alerting: entries, groups, notifications, deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationIssue
from ..model import SEVERITY, iso_from_ns, parse_time

# Delivery statuses, one per attempt in the log.
DELIVERED = "delivered"  # the receiver accepted it
RETRY = "retry"  # this attempt failed; another follows
FAILED = "failed"  # the last attempt failed, or the failure is permanent
DROPPED = "dropped"  # never attempted: the channel's backlog was full, or shutdown


def severity_of(entry: Mapping[str, Any]) -> int:
    """The entry's severity, from `severity` or else its level."""
    severity = entry.get("severity")
    if isinstance(severity, int):
        return severity
    return SEVERITY.get(entry.get("level") or "info", 2)


def timestamp_ns(value: Any, default: int) -> int:
    """Nanoseconds for a stored timestamp (ns int, ISO or "sec.nanos" text), else default."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**17:
        return value
    try:
        return parse_time(value)
    except ValidationIssue:
        return default


def entry_ns(entry: Mapping[str, Any], default: int) -> int:
    """An entry row's time in ns: `timestamp`, or the pipeline's `ts_ns`, else default."""
    value = entry.get("timestamp")
    if value is None:
        value = entry.get("ts_ns")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return timestamp_ns(value, default)


def entry_id(entry: Mapping[str, Any]) -> str:
    """An entry row's public id; the pipeline's integer ids show as 16 hex digits."""
    value = entry.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:016x}"  # storage.reader.format_id: the form the API and links use
    return str(value or "")


@dataclass(frozen=True)
class EntrySnapshot:
    """What a notification shows of one entry."""

    id: str
    project_id: str
    level: str
    message: str
    service: str
    environment: str
    error_name: str
    timestamp_ns: int

    @classmethod
    def of(cls, entry: Mapping[str, Any], default_ns: int) -> EntrySnapshot:
        """The snapshot of a stored entry row."""
        return cls(
            id=entry_id(entry),
            project_id=str(entry.get("project_id") or ""),
            level=str(entry.get("level") or "info"),
            message=str(entry.get("message") or ""),
            service=str(entry.get("service") or ""),
            environment=str(entry.get("environment") or ""),
            error_name=str(entry.get("error_name") or ""),
            timestamp_ns=entry_ns(entry, default_ns),
        )

    @property
    def timestamp_iso(self) -> str:
        """The entry's time as ISO 8601 UTC."""
        return iso_from_ns(self.timestamp_ns)


@dataclass(frozen=True)
class GroupKey:
    """Identifies an error group: organisation, project and fingerprint."""

    org_id: str
    project_id: str
    fingerprint: str


@dataclass(frozen=True)
class Occurrences:
    """Occurrences of one group seen in one batch, to add to the group."""

    key: GroupKey
    title: str
    service: str
    error_name: str
    level: str
    count: int
    first_seen: int
    last_seen: int
    first_entry_id: str
    last_entry_id: str


@dataclass
class ErrorGroup:
    """An error group as stored: totals over its whole life."""

    key: GroupKey
    title: str
    service: str
    error_name: str
    level: str  # the highest level seen
    count: int
    first_seen: int  # ns, entry time
    last_seen: int  # ns, entry time
    sample_entry_id: str  # the first entry of the group
    last_entry_id: str

    def to_json(self) -> dict[str, Any]:
        """The camelCase API form."""
        return {
            "fingerprint": self.key.fingerprint,
            "projectId": self.key.project_id,
            "title": self.title,
            "service": self.service,
            "errorName": self.error_name,
            "level": self.level,
            "count": self.count,
            "firstSeen": iso_from_ns(self.first_seen),
            "lastSeen": iso_from_ns(self.last_seen),
            "sampleEntryId": self.sample_entry_id,
            "lastEntryId": self.last_entry_id,
        }


@dataclass(frozen=True)
class PendingNotice:
    """Folded occurrences of a group whose interval on a channel has ended."""

    key: GroupKey
    channel_id: str
    count: int
    entry: EntrySnapshot


@dataclass(frozen=True)
class Notification:
    """One message about one error group, for one channel."""

    delivery_id: str
    channel_id: str
    key: GroupKey
    title: str
    count: int  # occurrences folded in since the last notification on this channel
    total: int  # occurrences over the group's life
    first_seen: int
    last_seen: int
    entry: EntrySnapshot
    link: str
    sent_at: float  # epoch seconds


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a notification to a channel, as the delivery log keeps it."""

    delivery_id: str
    channel_id: str
    attempt: int
    status: str
    at: float  # epoch seconds
    status_code: int | None = None  # HTTP status, or the SMTP reply code for email
    error: str | None = None
    duration_ms: float | None = None
    fingerprint: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The camelCase API form."""
        return {
            "deliveryId": self.delivery_id,
            "channelId": self.channel_id,
            "attempt": self.attempt,
            "status": self.status,
            "at": iso_from_ns(int(self.at * 1_000_000_000)),
            "statusCode": self.status_code,
            "error": self.error,
            "durationMs": self.duration_ms,
            "fingerprint": self.fingerprint,
        }
