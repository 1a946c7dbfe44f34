"""What every format parser returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Parsed:
    """Raw entries in the input vocabulary of SPEC §1 (aliases allowed).

    `lines[i]` is the 1-based line where entry i starts, for line-based formats.
    """

    entries: list[Any]
    lines: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def line_of(body: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset."""
    offset = max(0, min(offset, len(body)))
    line = body.count(b"\n", 0, offset) + 1
    start = body.rfind(b"\n", 0, offset) + 1
    return line, offset - start + 1
