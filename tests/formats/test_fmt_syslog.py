"""Syslog details that tables of vectors cannot cover: every PRI, and the year of RFC 3164."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timberyard.formats.syslog import YEARLESS_SKEW, parse

FACILITIES = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
]  # fmt: skip
SEVERITIES = ["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"]
# Seed 003: emergency/alert/critical/error -> error, warning -> warn, notice/info -> info.
LEVELS = ["error", "error", "error", "error", "warn", "info", "info", "debug"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("pri", range(192))
def test_every_priority(pri: int) -> None:
    for line in (f"<{pri}>1 - - - - - - x", f"<{pri}>Jan 15 10:30:00 h a: x"):
        entry = parse(line.encode(), 0).entries[0]
        assert entry["level"] == LEVELS[pri % 8]
        assert entry["data"]["facility"] == FACILITIES[pri // 8]
        assert entry["data"]["severity"] == SEVERITIES[pri % 8]


def test_leading_zeros_in_pri_are_tolerated() -> None:
    assert parse(b"<034>1 - - - - - - x", 0).entries[0]["data"]["facility"] == "auth"


def test_one_body_mixes_both_rfcs() -> None:
    body = b"<165>1 2024-01-15T10:30:00Z h a - - - one\n<34>Jan 15 10:30:00 h b[1]: two"
    entries = parse(body, 1_705_320_000 * 10**9).entries
    assert [(e["source"], e["message"]) for e in entries] == [("a", "one"), ("b", "two")]


SKEW = YEARLESS_SKEW
OFFSETS = st.integers(min_value=-3 * 366 * 86400, max_value=3 * 366 * 86400) | st.builds(
    # Around the limit (now plus the skew), where the time of day decides the year.
    lambda seconds: seconds,
    st.integers(min_value=SKEW - 2 * 86400, max_value=SKEW + 2 * 86400),
)


@settings(max_examples=200, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    offsets=st.lists(OFFSETS, min_size=1, max_size=8),
    shifts=st.lists(st.integers(min_value=-86400, max_value=86400), max_size=8),
)
def test_year_less_timestamps_take_the_latest_year_not_past_now(
    now: datetime, offsets: list[int], shifts: list[int]
) -> None:
    # Instants written without their year are read back in the latest year that
    # is not more than the skew after now; several share a date, as lines of one
    # batch do.
    now = now.replace(microsecond=0)
    moments = [now + timedelta(seconds=offset) for offset in offsets]
    moments += [moments[0] + timedelta(seconds=shift) for shift in shifts]
    body = "\n".join(
        f"<14>{MONTHS[m.month - 1]} {m.day:2d} {m:%H:%M:%S} h a: x" for m in moments
    ).encode()
    now_s = int((now - EPOCH).total_seconds())
    entries = parse(body, now_s * 10**9).entries
    latest = now_s + SKEW
    for moment, entry in zip(moments, entries, strict=True):
        chosen = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
        assert chosen.replace(year=moment.year) == moment
        assert (chosen - EPOCH).total_seconds() <= latest
        for year in range(chosen.year + 1, chosen.year + 9):
            try:
                other = chosen.replace(year=year)
            except ValueError:  # 29 February
                continue
            assert (other - EPOCH).total_seconds() > latest


def at(text: str) -> int:
    return int((datetime.fromisoformat(text) - EPOCH).total_seconds()) * 10**9


@pytest.mark.parametrize(
    ("now", "line", "timestamp"),
    [
        # The defect: "Dec 23" received on 3 December is last year's, not 20 days ahead.
        ("2026-12-03T18:00:00+00:00", "Dec 23 10:00:00", "2025-12-23T10:00:00Z"),
        ("2026-12-03T18:00:00+00:00", "Dec  3 17:59:00", "2026-12-03T17:59:00Z"),
        # A sender a few hours ahead (its local time read as UTC) stays this year.
        ("2026-12-03T18:00:00+00:00", "Dec  4 08:00:00", "2026-12-04T08:00:00Z"),
        ("2026-12-03T18:00:00+00:00", "Dec  4 18:00:01", "2025-12-04T18:00:01Z"),
        # Around New Year, in both directions.
        ("2027-01-01T00:00:05+00:00", "Dec 31 23:59:58", "2026-12-31T23:59:58Z"),
        ("2026-12-31T23:59:59+00:00", "Jan  1 00:00:01", "2027-01-01T00:00:01Z"),
        ("2027-01-02T09:00:00+00:00", "Dec 25 12:00:00", "2026-12-25T12:00:00Z"),
        ("2027-01-02T09:00:00+00:00", "Jan  2 08:00:00", "2027-01-02T08:00:00Z"),
        ("2027-01-02T09:00:00+00:00", "Jan  5 08:00:00", "2026-01-05T08:00:00Z"),
        # 29 February: the latest leap year not in the future.
        ("2027-03-01T00:00:00+00:00", "Feb 29 12:00:00", "2024-02-29T12:00:00Z"),
        ("2028-02-28T12:00:00+00:00", "Feb 29 06:00:00", "2028-02-29T06:00:00Z"),
        # A year written after the day is taken as it is.
        ("2026-12-03T18:00:00+00:00", "Dec 23 2026 10:00:00", "2026-12-23T10:00:00Z"),
    ],
)
def test_year_resolution_around_new_year(now: str, line: str, timestamp: str) -> None:
    entry = parse(f"<14>{line} h a: x".encode(), at(now)).entries[0]
    assert entry["timestamp"] == timestamp
