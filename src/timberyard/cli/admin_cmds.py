"""Management subcommands that talk to a running server (keys, projects)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Subcommands are added by later issues (keys, projects, search, tail, send, import)."""
    return None
