"""Instants in query parameters: ISO 8601, milliseconds, `now` and relative `-15m`."""

from __future__ import annotations

import re

from .errors import TimberyardError, ValidationIssue
from .model import parse_time

_UNITS_NS = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
}
# ASCII digits only: `\d` and str.isdigit() also take `²` and other scripts' digits.
_RELATIVE = re.compile(r"^(?:now)?\s*([+-])\s*([0-9]{1,9})\s*(ms|s|m|h|d|w)$", re.ASCII)
_MILLIS = re.compile(r"^[0-9]{1,19}$", re.ASCII)

# What the store's Int64 nanoseconds can hold, as whole years: 1970 to early 2262.
MIN_NS = 0
MAX_NS = 9_214_646_400_000_000_000  # 2262-01-01T00:00:00Z


def parse_instant(name: str, value: str, now_ns: int) -> int:
    """Nanoseconds for a `from`/`to` value in 1970-2262, or a 400 naming the parameter."""
    text = value.strip().lower()
    if text == "now":
        return _bounded(name, value, now_ns)
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        delta = int(amount) * _UNITS_NS[unit]
        return _bounded(name, value, now_ns - delta if sign == "-" else now_ns + delta)
    if _MILLIS.match(text):
        # Plain numbers in query parameters are milliseconds since the epoch (SPEC §3.2).
        return _bounded(name, value, int(text) * 1_000_000)
    if text.isascii():
        try:
            return _bounded(name, value, parse_time(value.strip()))
        except ValidationIssue:
            pass
    raise TimberyardError(
        "BAD_REQUEST",
        f"invalid {name} {_shown(value)}: expected ISO 8601 (2024-01-15T10:30:00Z),"
        " milliseconds since the epoch, 'now' or a relative time such as -15m, -24h, -7d",
    )


def _bounded(name: str, value: str, ns: int) -> int:
    if not MIN_NS <= ns < MAX_NS:
        raise TimberyardError(
            "BAD_REQUEST",
            f"invalid {name} {_shown(value)}: out of range; give an instant from 1970 to 2261",
        )
    return ns


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "…")


_DURATION = re.compile(r"^(\d{1,9})\s*(ms|s|m|h|d|w)?$")


def parse_duration_ms(name: str, value: str) -> int:
    """Milliseconds of a duration such as `30s`, `5m`, `1h`, `1d` (plain numbers: ms)."""
    match = _DURATION.match(value.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise TimberyardError(
            "BAD_REQUEST", f"invalid {name} {value!r}: expected a duration such as 30s, 5m, 1h, 1d"
        )
    amount, unit = int(match.group(1)), match.group(2) or "ms"
    return max(1, amount * _UNITS_NS[unit] // 1_000_000)


def format_duration(ms: int) -> str:
    """The shortest exact form of a duration: `1m`, `90s`, `250ms`."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS_NS[unit] // 1_000_000
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
