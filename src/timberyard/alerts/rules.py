"""Which channels an entry is eligible for: sendNotification, level threshold, query."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .channels import ChannelConfig
from .records import severity_of

logger = logging.getLogger("timberyard.alerts")

Entry = Mapping[str, Any]
Matcher = Callable[[Entry], bool]
# Builds a matcher from a query string; the query module provides it.
QueryCompiler = Callable[[str], Matcher]

_MAX_MATCHERS = 1024


class Rules:
    """Decides eligibility, compiling each channel query once."""

    def __init__(self, compile_query: QueryCompiler | None = None) -> None:
        self._compile = compile_query
        self._matchers: dict[str, Matcher | None] = {}

    def eligible(self, entry: Entry, config: ChannelConfig) -> bool:
        """Whether the entry should notify through a channel with this config.

        `send_notification` False suppresses; True overrides the level
        threshold. The channel's query, when set, must match either way: it
        says which entries the channel is for.
        """
        flag = entry.get("send_notification")
        if flag is False:
            return False
        if flag is not True and severity_of(entry) < config.min_severity:
            return False
        if config.query is None:
            return True
        matcher = self.matcher(config.query)
        if matcher is None:
            return False
        try:
            return bool(matcher(entry))
        except Exception:
            logger.exception("query %r raised on entry %s", config.query, entry.get("id"))
            return False

    def matcher(self, query: str) -> Matcher | None:
        """The compiled query, or None (logged once) if it cannot be compiled."""
        if query in self._matchers:
            return self._matchers[query]
        matcher: Matcher | None = None
        if self._compile is None:
            logger.warning(
                "no query compiler configured; channels with query %r never match", query
            )
        else:
            try:
                matcher = self._compile(query)
            except Exception as exc:
                logger.warning("query %r cannot be compiled (%s); it never matches", query, exc)
        if len(self._matchers) >= _MAX_MATCHERS:
            self._matchers.clear()  # queries of deleted or edited channels
        self._matchers[query] = matcher
        return matcher
