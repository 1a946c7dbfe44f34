"""Plain text bodies: one entry per non-empty line, with timestamp and level extracted.

The first timestamp of a line, wherever it is, becomes `timestamp`:

- ISO 8601: `2024-01-15T10:30:00Z`, `2024-01-15 10:30:00.123`,
  `2024-01-15 10:30:00,123+02:00` (date and time, seconds and zone optional);
- `MM/DD/YYYY HH:MM:SS(.fff)`;

optionally in square brackets, and as a word of its own (`time="..."` of
logrus and `file.log 2017-05-16 00:00:20.345 ...` of OpenStack count; digits
glued to other digits or letters do not). It becomes ISO 8601 text
(`2024-01-15T10:30:00`); a time without a zone is left without one, and is
read as UTC by normalisation.

The level is one of the keywords ERROR, WARN, WARNING, INFO, DEBUG, FATAL,
CRITICAL and TRACE as a whole word:

- as the first word after a timestamp at the start of the line (or as the
  first word of the line), in any case, bare or as `[ERROR]`, `(error)`,
  `<Error>`, `ERROR:`. The keyword is then removed and the message is the
  rest: `2024-01-15 10:30:00 ERROR Connection refused` gives level "error"
  and message "Connection refused";
- otherwise the first one anywhere in the line that is in upper case, in
  brackets, or the value of a `level=`, `lvl=` or `severity=` key (any case,
  quoted or not), as common layouts print it (`[main] ERROR c.e.Foo - boom`,
  `- app - ERROR - boom`, logrus's `level=warning`). The message then keeps
  the whole line after a leading timestamp, since the keyword sits among
  other header fields. Lower-case keywords in prose are not levels.

When the timestamp is not at the start, the message is the whole line.
Lines without a timestamp or level are entries too; their message is the line.
A line whose message would be empty keeps the whole line as its message.
Bytes that are not UTF-8 become U+FFFD rather than failing the request.
With `max_entries`, parsing stops after `max_entries + 1` entries and the
result says it was truncated.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Parsed, iter_lines, over_limit

_LEVELS: dict[str, str] = {
    "error": "error",
    "warn": "warn",
    "warning": "warn",
    "info": "info",
    "debug": "debug",
    "fatal": "fatal",
    "critical": "fatal",
    "trace": "trace",
}
_KEYWORD = "warning|warn|error|info|debug|fatal|critical|trace"

# Anchored patterns over disjoint character classes: linear in the line length.
# ASCII: a timestamp's digits are ASCII digits.
_TIMESTAMP_TEXT = (
    r"(\[)?(?:"
    r"(\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))[Tt ]"
    r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:[.,](\d{1,9}))?)?"
    r"([Zz]|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?"
    r"|(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/(\d{4}) "
    r"([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:[.,](\d{1,9}))?"
    r")(?(1)\])(?=[\s|;,\]\"')-]|\Z)"
)
_TIMESTAMP = re.compile(_TIMESTAMP_TEXT, re.ASCII)
# Anywhere in a line, as a word of its own: not glued to a word, a number or a path.
_TIMESTAMP_ANYWHERE = re.compile(r"(?<![\w.:/+-])" + _TIMESTAMP_TEXT, re.ASCII)
_SEPARATOR = re.compile(r"\s*(?:[-|:;,]\s+)?", re.ASCII)
_HEAD_LEVEL = re.compile(
    rf"(?:[\[(<]\s*)?({_KEYWORD})(?:\s*[\])>])?(?::|(?=\s|\Z))", re.IGNORECASE | re.ASCII
)
_MARKED_LEVEL = re.compile(
    rf"(?<![\w-])(?:[\[(<]\s*((?i:{_KEYWORD}))\s*[\])>]|({_KEYWORD.upper()})"
    rf"|(?i:level|lvl|severity)=[\"']?((?i:{_KEYWORD}))[\"']?)(?![\w-])",
    re.ASCII,
)


def parse(body: bytes, now_ns: int = 0, max_entries: int | None = None) -> Parsed:
    """Parse plain text into raw entries, one per non-empty line."""
    text = body.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    entries: list[Any] = []
    numbers: list[int] = []
    for number, line in iter_lines(text):
        line = line.rstrip()
        if not line:
            continue
        entries.append(parse_line(line))
        numbers.append(number)
        if over_limit(len(entries), max_entries):
            return Parsed(entries, numbers, truncated=True)
    return Parsed(entries, numbers)


def parse_line(line: str) -> dict[str, Any]:
    """One line of text as a raw entry."""
    entry: dict[str, Any] = {}
    pos = 0
    stamp = _TIMESTAMP.match(line)
    if stamp is not None:
        entry["timestamp"] = _iso(stamp)
        pos = _SEPARATOR.match(line, stamp.end()).end()  # type: ignore[union-attr]
    head = _HEAD_LEVEL.match(line, pos)
    if head is not None:
        entry["level"] = _LEVELS[head.group(1).lower()]
        pos = _SEPARATOR.match(line, head.end()).end()  # type: ignore[union-attr]
    else:
        marked = _MARKED_LEVEL.search(line, pos)
        if marked is not None:
            keyword = marked.group(1) or marked.group(2) or marked.group(3)
            entry["level"] = _LEVELS[keyword.lower()]
    if stamp is None:
        found = _TIMESTAMP_ANYWHERE.search(line)
        if found is not None:
            entry["timestamp"] = _iso(found)
            pos = 0  # the timestamp sits among other header fields: keep the line
    message = line[pos:] if pos else line
    entry["message"] = message if message.strip() else line.strip()
    return entry


def timestamp(text: str) -> str | None:
    """ISO 8601 text of a cell that is exactly one timestamp form of this module, else None."""
    match = _TIMESTAMP.match(text)
    if match is None or match.end() != len(text):
        return None
    return _iso(match)


def _iso(match: re.Match[str]) -> str:
    """ISO 8601 text for a matched timestamp."""
    date = match.group(2)
    if date is not None:
        text = f"{date}T{match.group(3)}:{match.group(4)}:{match.group(5) or '00'}"
        if match.group(6):
            text += "." + match.group(6)
        zone = match.group(7)
        if zone:
            if zone in "Zz":
                return text + "Z"
            if len(zone) == 3:
                zone += ":00"
            elif zone[3] != ":":
                zone = f"{zone[:3]}:{zone[3:]}"
            text += zone
        return text
    month, day, year = match.group(8), match.group(9), match.group(10)
    text = f"{year}-{int(month):02d}-{int(day):02d}T{match.group(11)}:{match.group(12)}"
    text += f":{match.group(13)}"
    if match.group(14):
        text += "." + match.group(14)
    return text
