"""Inputs of `send` and `import`: files (gzip included) and stdin, as numbered lines."""

from __future__ import annotations

import gzip
import itertools
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .chunks import WHOLE_FORMATS, Chunk, guess_format, line_chunks, records, whole_chunks
from .common import CliError

STDIN = "-"
# Lines waiting on stdin are sent at least this often, so `tail -f | timberyard send` flows.
STDIN_FLUSH_SECONDS = 1.0
_EOF = object()


@dataclass
class Options:
    """How to cut inputs into chunks."""

    fmt: str | None = None
    max_entries: int = 1000
    max_bytes: int = 5 * 1024 * 1024
    stream_stdin: bool = True


def open_input(name: str) -> BinaryIO:
    """A file (gunzipped when it is gzip) or stdin, in binary mode."""
    if name == STDIN:
        return sys.stdin.buffer
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise CliError(f"cannot read {name!r}: {exc.strerror or exc}") from None
    if handle.peek(2)[:2] == b"\x1f\x8b":
        return gzip.open(handle)  # type: ignore[return-value]
    return handle


def plain_size(names: list[str]) -> int | None:
    """Total bytes of the inputs when all are uncompressed files (for a percentage)."""
    total = 0
    for name in names:
        if name == STDIN or name.endswith(".gz"):
            return None
        try:
            total += os.path.getsize(name)
        except OSError:
            return None
    return total or None


def chunks_of(name: str, options: Options) -> Iterator[Chunk]:
    """The chunks of one input, its format given or guessed from its name and first line."""
    label = "<stdin>" if name == STDIN else name
    stream = open_input(name)
    try:
        if name == STDIN and options.stream_stdin:
            lines: Iterator[tuple[int, bytes] | None] = _ticking(stream)
        else:
            lines = enumerate(stream, 1)
        head = list(_head(lines))
        first = next((item[1] for item in head if item is not None and item[1].strip()), b"")
        fmt = options.fmt or guess_format(label, first)
        rest = itertools.chain(head, lines)
        if fmt in WHOLE_FORMATS:
            data = b"".join(item[1] for item in rest if item is not None)
            if data.strip():
                yield from whole_chunks(data, label, fmt, options.max_entries, options.max_bytes)
            return
        yield from line_chunks(
            records(rest, fmt), label, fmt, options.max_entries, options.max_bytes
        )
    except OSError as exc:
        raise CliError(f"cannot read {label!r}: {exc}") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _head(lines: Iterator[tuple[int, bytes] | None]) -> Iterator[tuple[int, bytes] | None]:
    """Lines up to and including the first non-blank one (at most 1000)."""
    for count, item in enumerate(lines):
        yield item
        if (item is not None and item[1].strip()) or count >= 1000:
            return


def _ticking(stream: BinaryIO) -> Iterator[tuple[int, bytes] | None]:
    """Numbered lines of a stream read by a thread, and None once a second (a flush tick)."""
    lines: queue.Queue[object] = queue.Queue(maxsize=10_000)

    def read() -> None:
        try:
            for line in stream:
                lines.put(line)
        finally:
            lines.put(_EOF)

    threading.Thread(target=read, name="timberyard-stdin", daemon=True).start()
    number = 0
    next_tick = time.monotonic() + STDIN_FLUSH_SECONDS
    while True:
        try:
            item = lines.get(timeout=max(0.0, next_tick - time.monotonic()))
        except queue.Empty:
            item = None
        if item is _EOF:
            return
        if item is not None:
            number += 1
            yield number, item  # type: ignore[misc]
        if time.monotonic() >= next_tick:
            next_tick = time.monotonic() + STDIN_FLUSH_SECONDS
            yield None
