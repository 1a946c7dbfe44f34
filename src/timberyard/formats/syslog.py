"""Syslog bodies: RFC 5424 and RFC 3164 (BSD) messages, one per line.

Each non-empty line is one message and becomes one entry:

- `level` from the severity, as seed 003 maps it: emergency, alert, critical
  and error -> "error"; warning -> "warn"; notice and info -> "info";
  debug -> "debug";
- `source` from APP-NAME (RFC 5424) or TAG (RFC 3164);
- `host` from HOSTNAME (also kept as `data.hostname`, where seed 003 puts it);
- `timestamp` as an ISO 8601 string. RFC 3164's `Mmm dd hh:mm:ss` has no year
  and no zone: it is read as UTC in the latest year that does not put it more
  than a day (`YEARLESS_SKEW`) after `now_ns`, so `Dec 31` received on
  1 January is last year's and `Jan  1 00:00:01` received a second before
  midnight on 31 December is next year's, as rsyslog and Vector resolve it;
- `message` from MSG, without leading whitespace or RFC 5424's UTF-8 BOM. An
  RFC 5424 message without MSG (legal) has its structured data as message, or
  `(no message from APP-NAME)` without structured data either (`(no message)`
  when APP-NAME is nil too);
- `data`: `facility` and `severity` as keywords ("local4", "notice"),
  `hostname`, `procid` (RFC 3164's `TAG[pid]`), `msgid`, and `sd`, the
  structured data as `{SD-ID: {PARAM-NAME: value}}` with escapes resolved
  (a PARAM-NAME given twice becomes a list of its values).

RFC 3164 as real senders write it is accepted: spaces after `<PRI>`, several
spaces between fields, `TAG:` with no space before MSG, `TAG[pid]` without a
colon, an RFC 3339 timestamp (rsyslog's high-precision format) or one with a
year after the day. Cisco IOS messages (`<189>123: host: *Mar  1 18:46:11.123
UTC: %SYS-5-CONFIG_I: ...`: optional sequence numbers, origin host, `*` or `.`
time-sync mark, milliseconds and zone name) keep their `%FACILITY-SEV-MNEMONIC:`
text as the message, the sequence number as `data.sequence` and the zone name
as `data.timezone` (the time is read as UTC).

Nil values (`-`) are left out. Bytes that are not UTF-8 become U+FFFD rather
than failing the request. A line without `<PRI>`, a PRI above 191, a malformed
RFC 5424 header or unterminated structured data is a ParseError with its line.
With `max_entries`, parsing stops after `max_entries + 1` entries and the
result says it was truncated.
"""

from __future__ import annotations

import re
import time
from typing import Any, NoReturn

from ..errors import ParseError
from .base import Parsed, iter_lines, over_limit

_LEVEL_BY_SEVERITY = ("error", "error", "error", "error", "warn", "info", "info", "debug")
_SEVERITY_NAMES = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")
_FACILITY_NAMES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
# PRI text -> (level, facility, severity), for the 192 valid priorities
# (leading zeros tolerated, though the RFCs do not allow them).
_PRIORITY: dict[str, tuple[str, str, str]] = {
    f"{pri:0{width}d}": (
        _LEVEL_BY_SEVERITY[pri % 8],
        _FACILITY_NAMES[pri // 8],
        _SEVERITY_NAMES[pri % 8],
    )
    for pri in range(192)
    for width in (1, 2, 3)
}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}

# Every pattern below is anchored and built from pieces whose character classes
# cannot overlap their neighbours, so matching is linear in the line's length.
# ASCII: syslog's digits and spaces are ASCII ones.
_FLAGS = re.ASCII | re.DOTALL
_RFC3339 = r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:\d\d)"
_SD_NAME = r'[^\s=\]"]+'
_SD_VALUE = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_SD_ELEMENT_TEXT = rf'\[{_SD_NAME}(?: {_SD_NAME}="[^"\\]*(?:\\.[^"\\]*)*")*\]'
# TAG, TAG[pid] or TAG[pid]: (a colon, then MSG with or without a space).
_TAG_TEXT = r"([^\s\[\]:]+)(?:\[([^\s\[\]]*)\]:?|:)"
_BSD_TIME = r"([A-Za-z]{3}) {1,2}(\d{1,2}) (?:(\d{4}) )?(\d\d):(\d\d):(\d\d)(\.\d{1,9})?"

# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]
_RFC5424 = re.compile(
    rf"[ \t]*<(\d{{1,3}})>1 (-|{_RFC3339}) (\S+) (\S+) (\S+) (\S+) "
    rf"(-|(?:{_SD_ELEMENT_TEXT})+)(?: |\Z)",
    _FLAGS,
)
# <PRI>TIMESTAMP [HOSTNAME] [TAG[PID]:] MSG, TIMESTAMP in BSD form or RFC 3339.
_RFC3164 = re.compile(
    r"[ \t]*<(\d{1,3})> *"
    rf"(?:{_BSD_TIME}"
    r"|(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:\d\d)?))(?: +|\Z)"
    rf"(?:{_TAG_TEXT}|(\S+) +(?:{_TAG_TEXT})?|(\S+)\Z)?",
    _FLAGS,
)
# Cisco IOS: <PRI>[seq: ][host: ][seq: ][*|.]Mmm dd hh:mm:ss[.fff][ ZONE]: MSG
_CISCO = re.compile(
    r"[ \t]*<(\d{1,3})> *(?:(\d+): +)?(?:(?!\d+:)([\w.-]+): +)?(?:(\d+): +)?[*.]?"
    rf"{_BSD_TIME}(?: ([A-Za-z]{{2,5}}))?: *",
    _FLAGS,
)
# "[SD-ID" or ' PARAM="value"', in order, within well-formed structured data.
_SD_TOKEN = re.compile(rf"\[({_SD_NAME})| ({_SD_NAME})={_SD_VALUE}", _FLAGS)
_SD_ESCAPE = re.compile(r'\\(["\\\]])', _FLAGS)
# For RFC 3164 without a timestamp, and for locating errors.
_TAG = re.compile(_TAG_TEXT, _FLAGS)
_PRI = re.compile(r"[ \t]*<(\d+)>", _FLAGS)
_V1 = re.compile(r"1 ", _FLAGS)
_HEADER = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+) ", _FLAGS)
_TIMESTAMP = re.compile(_RFC3339 + r"\Z", _FLAGS)
_SD_ID = re.compile(_SD_NAME, _FLAGS)
_SD_ELEMENT = re.compile(_SD_ELEMENT_TEXT, _FLAGS)
_SD_PARAM = re.compile(rf" {_SD_NAME}={_SD_VALUE}", _FLAGS)
_SD_OPEN = re.compile(rf' {_SD_NAME}="', _FLAGS)

# A year-less time may be this far after now (sender time zones, drifting clocks).
YEARLESS_SKEW = 86400


def parse(body: bytes, now_ns: int = 0, max_entries: int | None = None) -> Parsed:
    """Parse newline-framed syslog messages (RFC 5424 or RFC 3164) into raw entries."""
    text = body.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    clock = _Clock(now_ns)
    entries: list[Any] = []
    numbers: list[int] = []
    for number, line in iter_lines(text):
        if line.endswith("\r"):
            line = line[:-1]
        if not line or line.isspace():
            continue
        entries.append(parse_line(line, number, clock))
        numbers.append(number)
        if over_limit(len(entries), max_entries):
            return Parsed(entries, numbers, truncated=True)
    return Parsed(entries, numbers)


def parse_line(line: str, number: int, clock: _Clock) -> dict[str, Any]:
    """One syslog message as a raw entry; `number` locates errors."""
    match = _RFC5424.match(line)
    if match is not None:
        priority = _PRIORITY.get(match.group(1))
        if priority is not None:
            return _rfc5424(line, match, priority)
    else:
        match = _RFC3164.match(line)
        if match is not None:
            priority = _PRIORITY.get(match.group(1))
            if priority is not None:
                return _rfc3164(line, match, number, priority, clock)
        match = _CISCO.match(line)
        if match is not None:
            priority = _PRIORITY.get(match.group(1))
            if priority is not None and match.group(5).lower() in _MONTHS:
                return _cisco(line, match, number, priority, clock)
    return _diagnose(line, number)


def _rfc5424(line: str, match: re.Match[str], priority: tuple[str, str, str]) -> dict[str, Any]:
    _, stamp, hostname, app, procid, msgid, sd_text = match.groups()
    entry: dict[str, Any] = {"level": priority[0]}
    data: dict[str, Any] = {"facility": priority[1], "severity": priority[2]}
    if stamp != "-":
        entry["timestamp"] = stamp
    if app != "-":
        entry["source"] = app
    if hostname != "-":
        entry["host"] = data["hostname"] = hostname
    if procid != "-":
        data["procid"] = procid
    if msgid != "-":
        data["msgid"] = msgid
    # rsyslog's RFC 5424 template puts a space before MSG; the BOM may follow it.
    message = line[match.end() :].lstrip(" \t\ufeff")
    if sd_text != "-":
        data["sd"] = _structured_data(sd_text)
        if not message:
            message = sd_text
    if not message:
        message = "(no message)" if app == "-" else f"(no message from {app})"
    entry["message"] = message
    entry["data"] = data
    return entry


def _structured_data(text: str) -> dict[str, dict[str, Any]]:
    """`{SD-ID: {PARAM-NAME: value}}` for SD-ELEMENTs already known to be well formed."""
    elements: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {}
    for sd_id, key, value in _SD_TOKEN.findall(text):
        if sd_id:
            params = elements.setdefault(sd_id, {})
            continue
        if "\\" in value:
            value = _SD_ESCAPE.sub(r"\1", value)
        if key in params:
            previous = params[key]
            params[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            params[key] = value
    return elements


def _rfc3164(
    line: str,
    match: re.Match[str],
    number: int,
    priority: tuple[str, str, str],
    clock: _Clock,
) -> dict[str, Any]:
    (_, month, day, year, hour, minute, second, fraction, iso,
     tag, procid, hostname, host_tag, host_procid, last) = match.groups()  # fmt: skip
    if iso is None:
        month_number = _MONTHS.get(month.lower())
        if month_number is None:
            return _rfc3164_bare(line, match.end(1) + 1, priority)
        stamp = _bsd_stamp(line, match, 2, number, clock)
    else:
        stamp = iso
    entry: dict[str, Any] = {"level": priority[0], "timestamp": stamp}
    data: dict[str, Any] = {"facility": priority[1], "severity": priority[2]}
    if tag is None:
        hostname = hostname or last
        if hostname is not None:
            entry["host"] = data["hostname"] = hostname
        tag, procid = host_tag, host_procid
    if tag is not None:
        entry["source"] = tag
        if procid:
            data["procid"] = procid
    entry["message"] = line[match.end() :].lstrip()
    entry["data"] = data
    return entry


def _bsd_stamp(line: str, match: re.Match[str], first: int, number: int, clock: _Clock) -> str:
    """ISO 8601 text of the `Mmm dd [yyyy] hh:mm:ss[.fff]` in groups first..first+6."""
    month, day, year, hour, minute, second, fraction = match.group(*range(first, first + 7))
    stamp = clock.bsd(_MONTHS[month.lower()], day, year, hour, minute, second, fraction)
    if stamp is None:
        bad = line[match.start(first) : match.end(first + 6 if fraction else first + 5)]
        raise ParseError(
            f"invalid timestamp {_quote(bad)}: expected a date such as Jan 15 10:30:00",
            number,
            match.start(first) + 1,
        )
    return stamp


def _cisco(
    line: str,
    match: re.Match[str],
    number: int,
    priority: tuple[str, str, str],
    clock: _Clock,
) -> dict[str, Any]:
    """A Cisco IOS message: sequence numbers and origin host before the timestamp."""
    sequence, hostname, device_sequence = match.group(2, 3, 4)
    entry: dict[str, Any] = {
        "level": priority[0],
        "timestamp": _bsd_stamp(line, match, 5, number, clock),
    }
    data: dict[str, Any] = {"facility": priority[1], "severity": priority[2]}
    if hostname is not None:
        entry["host"] = data["hostname"] = hostname
    if sequence or device_sequence:
        data["sequence"] = sequence or device_sequence
    if match.group(12):
        data["timezone"] = match.group(12)
    entry["message"] = line[match.end() :]
    entry["data"] = data
    return entry


def _rfc3164_bare(line: str, pos: int, priority: tuple[str, str, str]) -> dict[str, Any]:
    """An RFC 3164 message without a timestamp, so without a HOSTNAME either (4.3.3)."""
    entry: dict[str, Any] = {"level": priority[0]}
    data: dict[str, Any] = {"facility": priority[1], "severity": priority[2]}
    while line.startswith(" ", pos):
        pos += 1
    tag = _TAG.match(line, pos)
    if tag is not None:
        entry["source"] = tag.group(1)
        if tag.group(2):
            data["procid"] = tag.group(2)
        pos = tag.end()
    entry["message"] = line[pos:].lstrip()
    entry["data"] = data
    return entry


def _diagnose(line: str, number: int) -> dict[str, Any]:
    """A line the fast patterns did not take: RFC 3164 without a timestamp, or an error."""
    match = _PRI.match(line)
    if match is None:
        raise ParseError(f"expected <PRI> at the start of {_quote(line)}", number, 1)
    priority = _PRIORITY.get(match.group(1))
    if priority is None:
        raise ParseError(
            f"priority <{_quote(match.group(1))[1:-1]}> is out of range: expected 0 to 191",
            number,
            match.start(1) + 1,
        )
    pos = match.end()
    if not _V1.match(line, pos):
        return _rfc3164_bare(line, pos, priority)
    header = _HEADER.match(line, pos)
    if header is None:
        raise ParseError(
            f"malformed RFC 5424 header {_quote(line)}: expected"
            " VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA",
            number,
            pos + 1,
        )
    stamp = header.group(1)
    if stamp != "-" and not _TIMESTAMP.match(stamp):
        raise ParseError(
            f"invalid timestamp {_quote(stamp)}: expected RFC 3339"
            " such as 2024-01-15T10:30:00.000Z, or -",
            number,
            header.start(1) + 1,
        )
    # The header is sound, so the structured data (or what follows it) is not.
    _structured_data_error(line, header.end(), number)


def _structured_data_error(line: str, pos: int, number: int) -> NoReturn:
    """Raise the ParseError that says where the structured data at `pos` goes wrong."""
    if line.startswith("-", pos):
        pos += 1
    elif not line.startswith("[", pos):
        raise ParseError(
            f'expected structured data "[" or "-", got {_quote(line[pos : pos + 20])}',
            number,
            pos + 1,
        )
    while line.startswith("[", pos):
        element = _SD_ELEMENT.match(line, pos)
        if element is not None:
            pos = element.end()
            continue
        name = _SD_ID.match(line, pos + 1)
        if name is None:
            raise ParseError(
                f'expected an SD-ID after "[", got {_quote(line[pos : pos + 20])}',
                number,
                pos + 2,
            )
        pos = name.end()
        while True:
            param = _SD_PARAM.match(line, pos)
            if param is None:
                unterminated = pos >= len(line) or _SD_OPEN.match(line, pos)
                what = "unterminated" if unterminated else "malformed"
                raise ParseError(
                    f"{what} structured data {_quote(line[pos : pos + 20])}:"
                    ' expected PARAM="value" or "]"',
                    number,
                    pos + 1,
                )
            pos = param.end()
    raise ParseError(
        f"expected a space after structured data, got {_quote(line[pos : pos + 20])}",
        number,
        pos + 1,
    )


class _Clock:
    """Turns RFC 3164's year-less timestamps into ISO 8601, relative to now."""

    def __init__(self, now_ns: int) -> None:
        # The latest instant a year-less time may stand for.
        self.latest = now_ns // 1_000_000_000 + YEARLESS_SKEW
        self.year = time.gmtime(self.latest).tm_year
        # (month, day, year) -> ("YYYY-MM-DDT", whether the year holds all day), or
        # None for a date that does not exist. Lines of one batch share few dates.
        self._dates: dict[tuple[int, str, str | None], tuple[str, bool] | None] = {}

    def bsd(
        self,
        month: int,
        day: str,
        year: str | None,
        hour: str,
        minute: str,
        second: str,
        fraction: str | None,
    ) -> str | None:
        """ISO 8601 text for `Mmm dd [yyyy] hh:mm:ss[.fff]` in UTC, or None if invalid."""
        key = (month, day, year)
        if key in self._dates:
            date = self._dates[key]
        else:
            date = self._dates[key] = self._date(month, int(day), year)
        # Two-digit strings compare like their numbers.
        if date is None or hour > "23" or minute > "59" or second > "59":
            return None
        prefix, whole_day = date
        if not whole_day:
            # On the day of the limit the time of day decides the year.
            clock = int(hour) * 3600 + int(minute) * 60 + int(second)
            found = self._latest_year(month, int(day), clock)
            if found is None:
                return None
            prefix = f"{found:04d}{prefix[4:]}"
        return f"{prefix}{hour}:{minute}:{second}{fraction or ''}Z"

    def _date(self, month: int, day: int, year: str | None) -> tuple[str, bool] | None:
        if year is not None:
            chosen = int(year)
            if not 1 <= day <= _days_in_month(chosen, month):
                return None
            return f"{chosen:04d}-{month:02d}-{day:02d}T", True
        first = self._latest_year(month, day, 0)
        if first is None:
            return None
        whole_day = first == self._latest_year(month, day, 86399)
        return f"{first:04d}-{month:02d}-{day:02d}T", whole_day

    def _latest_year(self, month: int, day: int, clock: int) -> int | None:
        """The latest year not putting the instant past the limit; None if none has the day."""
        if day < 1:
            return None
        # Eight years back so that 29 February always has a candidate.
        for year in range(self.year, self.year - 9, -1):
            if day > _days_in_month(year, month):
                continue
            if _days(year, month, day) * 86400 + clock <= self.latest:
                return year
        return None


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a civil date (proleptic Gregorian)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _quote(text: str, limit: int = 60) -> str:
    """The offending input in double quotes, shortened for an error message."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_frames(frames: list[bytes], now_ns: int) -> tuple[list[dict[str, Any]], int]:
    """Raw entries of network frames, one message each, and how many frames were malformed.

    A frame is what RFC 6587 framing (or one UDP datagram) delivered, without its
    trailer; a message may hold newlines. Frames that do not parse are counted and
    skipped, so one bad frame never costs the others.
    """
    clock = _Clock(now_ns)
    entries: list[dict[str, Any]] = []
    malformed = 0
    for frame in frames:
        line = frame.decode("utf-8", "replace").rstrip("\r\n\x00")
        if line.startswith("\ufeff"):
            line = line[1:]
        if not line or line.isspace():
            continue
        try:
            entries.append(parse_line(line, 1, clock))
        except ParseError:
            malformed += 1
    return entries, malformed
