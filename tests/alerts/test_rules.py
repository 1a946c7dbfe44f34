"""Eligibility: sendNotification, the level threshold and the injected query matcher."""

from __future__ import annotations

from typing import Any

import pytest

from timberyard.alerts import validate_channel
from timberyard.alerts.rules import Rules

from .conftest import entry

DEFAULT = validate_channel({"type": "webhook", "url": "https://e.com"})
WARN = validate_channel({"type": "webhook", "url": "https://e.com", "minLevel": "warn"})
BILLING = validate_channel({"type": "webhook", "url": "https://e.com", "query": "service:billing"})


def compile_query(text: str) -> Any:
    field, _, value = text.partition(":")
    return lambda e: e.get(field) == value


CASES = [
    # (entry overrides, channel, eligible)
    ({"level": "error"}, DEFAULT, True),
    ({"level": "fatal"}, DEFAULT, True),
    ({"level": "warn"}, DEFAULT, False),
    ({"level": "info"}, DEFAULT, False),
    ({"level": "warn"}, WARN, True),
    ({"level": "info", "send_notification": True}, DEFAULT, True),
    ({"level": "fatal", "send_notification": False}, DEFAULT, False),
    ({"level": "error", "service": "billing"}, BILLING, True),
    ({"level": "error", "service": "web"}, BILLING, False),
    ({"level": "info", "service": "billing"}, BILLING, False),
    # sendNotification overrides the threshold, not the channel's query.
    ({"level": "info", "service": "web", "send_notification": True}, BILLING, False),
    ({"level": "info", "service": "billing", "send_notification": True}, BILLING, True),
    # severity alone, or level alone, is enough.
    ({"level": "error", "severity": None}, DEFAULT, True),
]


@pytest.mark.parametrize(("overrides", "config", "eligible"), CASES)
def test_eligibility(overrides: dict[str, Any], config: Any, eligible: bool) -> None:
    assert Rules(compile_query).eligible(entry(**overrides), config) is eligible


def test_a_query_without_compiler_never_matches() -> None:
    assert Rules(None).eligible(entry(service="billing"), BILLING) is False


def test_a_matcher_that_raises_does_not_match() -> None:
    def broken(text: str) -> Any:
        return lambda e: 1 / 0

    assert Rules(broken).eligible(entry(service="billing"), BILLING) is False


def test_queries_are_compiled_once() -> None:
    calls: list[str] = []

    def counting(text: str) -> Any:
        calls.append(text)
        return compile_query(text)

    rules = Rules(counting)
    for _ in range(5):
        rules.eligible(entry(service="billing"), BILLING)
    assert calls == ["service:billing"]
