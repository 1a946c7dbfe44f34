"""Printing: tables of management objects, entries one per line, JSON."""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

LEVEL_COLOURS = {
    "trace": "2",
    "debug": "2",
    "info": "36",
    "success": "32",
    "warn": "33",
    "error": "31",
    "fatal": "1;31",
}


def use_colour(stream: TextIO, choice: str = "auto") -> bool:
    """Colour on `always`, never on `never`; on `auto` only for a terminal without NO_COLOR."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def when(ms: Any) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC to the millisecond; '-' when unknown."""
    if not isinstance(ms, int | float) or isinstance(ms, bool):
        return "-"
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_line(entry: dict[str, Any], colour: bool = False) -> str:
    """`time level service message` for one entry, the message on one line."""
    level = str(entry.get("level") or "info")
    message = str(entry.get("message") or "").replace("\r\n", "\n").replace("\n", "\\n")
    if entry.get("errorName"):
        message = f"{message} [{entry['errorName']}]"
    service = str(entry.get("service") or "-")
    stamp = when(entry.get("timestamp"))
    tag = f"{level.upper():5}"
    if colour:
        stamp = f"\x1b[2m{stamp}\x1b[0m"
        tag = f"\x1b[{LEVEL_COLOURS.get(level, '0')}m{tag}\x1b[0m"
        service = f"\x1b[35m{service}\x1b[0m"
    return f"{stamp} {tag} {service} {message}"


def print_json(value: Any, stream: TextIO | None = None) -> None:
    """One JSON document on its own line."""
    out = stream or sys.stdout
    out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")


def print_table(
    rows: Sequence[Sequence[Any]], headers: Sequence[str], stream: TextIO | None = None
) -> None:
    """Rows as left-aligned columns under headers; '(none)' when empty."""
    out = stream or sys.stdout
    if not rows:
        out.write("(none)\n")
        return
    cells = [[cell_text(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def cell_text(value: Any) -> str:
    """A table cell: lists joined by commas, None as '-', booleans as yes/no."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)
