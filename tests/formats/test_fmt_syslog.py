"""Syslog details that tables of vectors cannot cover: every PRI, and the year of RFC 3164."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timberyard.formats.syslog import parse

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


HALF_YEAR = 182 * 86400
OFFSETS = st.integers(min_value=-3 * 366 * 86400, max_value=3 * 366 * 86400) | st.builds(
    # Around the half-year boundary, where the time of day decides the year.
    lambda sign, seconds: sign * seconds,
    st.sampled_from([-1, 1]),
    st.integers(min_value=HALF_YEAR - 2 * 86400, max_value=HALF_YEAR + 3 * 86400),
)


@settings(max_examples=200, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    offsets=st.lists(OFFSETS, min_size=1, max_size=8),
    shifts=st.lists(st.integers(min_value=-86400, max_value=86400), max_size=8),
)
def test_year_less_timestamps_take_the_nearest_year(
    now: datetime, offsets: list[int], shifts: list[int]
) -> None:
    # Instants written without their year are read back as the candidate nearest to
    # now; several share a date, as lines of one batch do.
    now = now.replace(microsecond=0)
    moments = [now + timedelta(seconds=offset) for offset in offsets]
    moments += [moments[0] + timedelta(seconds=shift) for shift in shifts]
    body = "\n".join(
        f"<14>{MONTHS[m.month - 1]} {m.day:2d} {m:%H:%M:%S} h a: x" for m in moments
    ).encode()
    now_s = int((now - EPOCH).total_seconds())
    entries = parse(body, now_s * 10**9).entries
    for moment, entry in zip(moments, entries, strict=True):
        chosen = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
        assert chosen.replace(year=moment.year) == moment
        distance = abs((chosen - EPOCH).total_seconds() - now_s)
        for year in range(chosen.year - 5, chosen.year + 6):
            try:
                other = chosen.replace(year=year)
            except ValueError:  # 29 February
                continue
            assert distance <= abs((other - EPOCH).total_seconds() - now_s)
