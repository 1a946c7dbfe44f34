"""What every format parser returns, and the line reader the line formats share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Parsed:
    """Raw entries in the input vocabulary of SPEC §1 (aliases allowed).

    `lines[i]` is the 1-based line where entry i starts, for line-based formats.
    `truncated` says the parser stopped after `max_entries + 1` entries: the body
    holds more than the limit it was given, and the rest was not read.
    """

    entries: list[Any]
    lines: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False


def line_of(body: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset."""
    offset = max(0, min(offset, len(body)))
    line = body.count(b"\n", 0, offset) + 1
    start = body.rfind(b"\n", 0, offset) + 1
    return line, offset - start + 1


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based number, line) of each line of `text`, without building a list of them.

    A body of millions of short lines must cost no more than the lines a parser
    reads before it stops at its entry limit.
    """
    pos = 0
    number = 1
    end = text.find("\n")
    while end >= 0:
        yield number, text[pos:end]
        pos = end + 1
        number += 1
        end = text.find("\n", pos)
    yield number, text[pos:]


def over_limit(count: int, max_entries: int | None) -> bool:
    """Whether `count` entries are past `max_entries` (None: no limit)."""
    return max_entries is not None and count > max_entries
