"""Debounce of seed 001's tracking events: repeats inside a window fold into the first entry."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ValidationIssue
from .model import iso_from_ns
from .storage.meta import MetaStore

DEFAULT_WINDOW_SECONDS = 600
MAX_WINDOW_SECONDS = 30 * 86400
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)?", re.I)
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[dhms]?\s*)+$", re.I)
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, None: 60}


def parse_interval(value: Any) -> int:
    """Seconds of a `maxInterval`: `10m`, `1h 30m`, `90s`, or plain minutes (`15`, "15")."""
    if isinstance(value, bool):
        raise ValidationIssue(
            f'invalid maxInterval {value!r}: expected e.g. "10m", "1h 30m" or minutes'
        )
    if isinstance(value, int | float):
        seconds = float(value) * 60
    elif isinstance(value, str) and _WHOLE.match(value) and value.strip():
        seconds = sum(
            float(amount) * _SECONDS[unit.lower() if unit else None]
            for amount, unit in _PART.findall(value)
        )
    else:
        raise ValidationIssue(
            f'invalid maxInterval {value!r}: expected e.g. "10m", "1h 30m", "90s" or minutes'
        )
    if not 1 <= seconds <= MAX_WINDOW_SECONDS:
        raise ValidationIssue(
            f"maxInterval {value!r} is out of range: between 1 second and 30 days"
        )
    return int(seconds)


@dataclass(frozen=True)
class DebounceSpec:
    """What `useDebounce` asked for: an explicit key (or None) and a window."""

    key: str | None
    window_seconds: int


def parse_use_debounce(value: Any) -> DebounceSpec | None:
    """`useDebounce`: true/false, or {"key"?: str, "maxInterval"?: "10m" | minutes}."""
    if value is None or value is False:
        return None
    if value is True:
        return DebounceSpec(None, DEFAULT_WINDOW_SECONDS)
    if isinstance(value, dict):
        unknown = set(value) - {"key", "maxInterval"}
        if unknown:
            raise ValidationIssue(
                f"useDebounce has unknown keys {sorted(unknown)}: expected key and maxInterval"
            )
        key = value.get("key")
        if key is not None and (not isinstance(key, str) or not key or len(key) > 500):
            raise ValidationIssue(
                "useDebounce.key must be a non-empty string of at most 500 characters"
            )
        window = value.get("maxInterval")
        seconds = DEFAULT_WINDOW_SECONDS if window is None else parse_interval(window)
        return DebounceSpec(key, seconds)
    raise ValidationIssue(
        f"useDebounce must be true, false or an object {{key, maxInterval}}, got {value!r}"
    )


@dataclass
class Occurrence:
    """The first entry of a debounce window and what folded into it."""

    entry_id: int
    window_end_ms: int
    count: int
    last_seen_ms: int


class Debouncer:
    """Debounce state per (project, key), kept in the metadata store across restarts."""

    def __init__(self, meta: MetaStore, clock: Callable[[], float] = time.time) -> None:
        self.meta = meta
        self.clock = clock
        self._projects_with_state: set[str] | None = None

    @staticmethod
    def key_hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def hit(self, project_id: str, key: str) -> Occurrence | None:
        """Fold a repeat into its open window; None when there is no open window."""
        now_ms = int(self.clock() * 1000)
        found = self.meta.debounce_hit(project_id, self.key_hash(key), now_ms)
        if found is None:
            return None
        entry_id, window_end_ms, count = found
        return Occurrence(entry_id, window_end_ms, count, now_ms)

    def claim(
        self, project_id: str, key: str, entry_id: int, window_seconds: int
    ) -> Occurrence | None:
        """Fold into the open window, or open one whose first entry is `entry_id` (None).

        One decision in one transaction, so two nodes sharing the metadata store never
        both open a window for one key.
        """
        now_ms = int(self.clock() * 1000)
        found = self.meta.debounce_claim(
            project_id, self.key_hash(key), entry_id, now_ms, now_ms + window_seconds * 1000
        )
        if found is None:
            if self._projects_with_state is not None:
                self._projects_with_state.add(project_id)
            return None
        first_id, window_end_ms, count = found
        return Occurrence(first_id, window_end_ms, count, now_ms)

    def open(self, project_id: str, key: str, entry_id: int, window_seconds: int) -> None:
        """Start a window whose first entry is `entry_id`."""
        now_ms = int(self.clock() * 1000)
        self.meta.debounce_open(
            project_id, self.key_hash(key), entry_id, now_ms, now_ms + window_seconds * 1000
        )
        if self._projects_with_state is not None:
            self._projects_with_state.add(project_id)

    def cancel(self, project_id: str, key: str, entry_id: int) -> None:
        """Forget a window whose first entry could not be stored."""
        self.meta.debounce_cancel(project_id, self.key_hash(key), entry_id)

    def decorate(self, project_id: str, entries: list[dict[str, Any]]) -> None:
        """Show `count` and `lastSeen` in the fields of entries that repeats folded into."""
        if self._projects_with_state is None:
            self._projects_with_state = self.meta.debounce_projects()
        if project_id not in self._projects_with_state or not entries:
            return
        ids = {int(e["id"], 16): e for e in entries}
        for entry_id, count, last_seen_ms in self.meta.debounce_counts(project_id, list(ids)):
            entry = ids[entry_id]
            entry["fields"] = {
                **(entry.get("fields") or {}),
                "count": count,
                "lastSeen": iso_from_ns(last_seen_ms * 1_000_000),
            }
