"""Injectable time: production reads the wall clock, tests set it."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock time in seconds (float), or a fixed/advancing time in tests."""

    def __init__(self, fixed: float | None = None) -> None:
        self.fixed = fixed

    def __call__(self) -> float:
        return time.time() if self.fixed is None else self.fixed

    def now_ms(self) -> int:
        return int(self() * 1000)

    def now_ns(self) -> int:
        return time.time_ns() if self.fixed is None else int(self.fixed * 1_000_000_000)

    def advance(self, seconds: float) -> None:
        """Move a fixed clock forward (tests)."""
        if self.fixed is None:
            raise RuntimeError("cannot advance the wall clock")
        self.fixed += seconds
