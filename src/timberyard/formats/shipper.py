"""Helpers the shipper protocols share: label-style levels and key lookups."""

from __future__ import annotations

from typing import Any

from ..errors import ValidationIssue
from ..model import parse_level

# pino's numeric levels (also what pino-elasticsearch and pino-loki can send).
PINO_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}


def level_of(value: Any) -> str | None:
    """A shipper's level value as one of ours, or None when it is not one we know."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return PINO_LEVELS.get(value)
    if isinstance(value, str):
        try:
            return parse_level(value)
        except ValidationIssue:
            if value.strip().isdigit():
                return PINO_LEVELS.get(int(value.strip()))
    return None
