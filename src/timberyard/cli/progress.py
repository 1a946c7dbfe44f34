"""A progress line on stderr: entries sent, rate, share of the input done."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one line on a terminal; prints a line every few seconds elsewhere."""

    def __init__(
        self,
        enabled: bool,
        verb: str = "sent",
        total_bytes: int | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.verb = verb
        self.total_bytes = total_bytes
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = ""
        self.width = 0

    def update(self, entries: int, rejected: int, done_bytes: int = 0, force: bool = False) -> None:
        """Show the counts, at most 5 times a second (every 2 s when not a terminal)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < (0.2 if self.live else 2.0):
            return
        line = self.render(entries, rejected, done_bytes, now - self.started)
        if force and line == self.shown:
            return
        self.last, self.shown = now, line
        if self.live:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def render(self, entries: int, rejected: int, done_bytes: int, elapsed: float) -> str:
        """The progress text."""
        rate = entries / elapsed if elapsed > 0 else 0.0
        noun = "entry" if entries == 1 else "entries"
        text = f"{self.verb} {entries:,} {noun} ({rate:,.0f}/s)"
        if rejected:
            text += f", {rejected:,} rejected"
        if self.total_bytes:
            text += f", {min(100.0, 100.0 * done_bytes / self.total_bytes):.0f}%"
        return text

    def finish(self) -> None:
        """Clear the live line before the summary is printed."""
        if self.live and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
