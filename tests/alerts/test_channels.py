"""Channel configuration: what is accepted, and what is rejected with which message."""

from __future__ import annotations

from typing import Any

import pytest

from timberyard.alerts import ChannelConfig, ChannelConfigError, validate_channel
from timberyard.alerts.channels import parse_interval

VALID: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"type": "webhook", "url": "https://example.com/hook"},
        {"type": "webhook", "url": "https://example.com/hook", "min_level": "error"},
    ),
    (
        {"type": "webhook", "url": "http://127.0.0.1:9000/x", "secret": "k", "minLevel": "warning"},
        {"secret": "k", "min_level": "warn"},
    ),
    (
        {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X", "minLevel": "critical"},
        {"type": "slack", "min_level": "fatal"},
    ),
    (
        {"type": "email", "to": "ops@example.com, dev@example.org"},
        {"to": ("ops@example.com", "dev@example.org")},
    ),
    ({"type": "email", "to": ["root@localhost"]}, {"to": ("root@localhost",)}),
    (
        {"type": "webhook", "url": "https://e.com", "query": "service:billing", "name": "billing"},
        {"query": "service:billing", "name": "billing"},
    ),
    ({"type": "webhook", "url": "https://e.com", "query": "  "}, {"query": None}),
    (
        {"type": "webhook", "url": "https://e.com", "groupInterval": "1h 30m"},
        {"group_interval": 5400},
    ),
    ({"type": "webhook", "url": "https://e.com", "groupInterval": 5}, {"group_interval": 300}),
    ({"type": "webhook", "url": "https://e.com", "enabled": False}, {"enabled": False}),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_configs(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    config = validate_channel(raw)
    for name, value in expected.items():
        assert getattr(config, name) == value


INVALID: list[tuple[Any, str]] = [
    ("webhook", "a channel must be a JSON object, got str"),
    ({}, "type is required: expected webhook, slack or email"),
    ({"type": "sms", "to": "1"}, 'unknown channel type "sms": expected webhook, slack or email'),
    ({"type": "webhook"}, "url is required for a webhook channel: expected an http(s) URL"),
    (
        {"type": "slack", "url": "ftp://x.com/h"},
        'url "ftp://x.com/h" must start with http:// or https://',
    ),
    ({"type": "webhook", "url": "javascript:alert(1)"}, "must start with http:// or https://"),
    ({"type": "webhook", "url": "https://"}, 'url "https://" has no host'),
    (
        {"type": "webhook", "url": "http://a.com:99999/"},
        'url "http://a.com:99999/" is not a valid URL',
    ),
    ({"type": "webhook", "url": "http://a.com/a b"}, "must not contain whitespace"),
    ({"type": "webhook", "url": 42}, 'url "42" must be an http(s) URL'),
    ({"type": "email"}, "to is required for a email channel: expected one or more email addresses"),
    ({"type": "email", "to": "not-an-email"}, 'to: "not-an-email" is not a valid email address'),
    ({"type": "email", "to": ["ok@example.com", "a b@c.com"]}, 'to: "a b@c.com" is not a valid'),
    ({"type": "email", "to": "ok@example.com,"}, 'to: "" is not a valid email address'),
    ({"type": "email", "to": "x@y.com\r\nBcc: evil@z.com"}, "is not a valid email address"),
    ({"type": "email", "to": []}, "to must name at least one email address"),
    ({"type": "email", "to": 5}, 'to "5" must be an email address or a list of them'),
    (
        {"type": "webhook", "url": "https://e.com", "minLevel": "loud"},
        'minLevel "loud" is not a level: expected one of trace, debug, info, success, warn, '
        "error, fatal",
    ),
    ({"type": "webhook", "url": "https://e.com", "minLevel": 3}, 'minLevel "3" is not a level'),
    ({"type": "webhook", "url": "https://e.com", "query": 1}, 'query "1" must be a string'),
    (
        {"type": "webhook", "url": "https://e.com", "groupInterval": "soon"},
        'groupInterval "soon" is not an interval: expected "10m", "1h 30m" or minutes',
    ),
    ({"type": "webhook", "url": "https://e.com", "groupInterval": 0}, "must be above 0"),
    ({"type": "webhook", "url": "https://e.com", "secret": ""}, "secret must be a non-empty"),
    ({"type": "webhook", "url": "https://e.com", "enabled": "yes"}, 'enabled "yes" must be true'),
    (
        {"type": "slack", "url": "https://e.com", "secret": "x"},
        'unknown key "secret" for a slack channel: expected name, minLevel',
    ),
    ({"type": "webhook", "url": "https://e.com", "minlevel": "warn"}, 'unknown key "minlevel"'),
]


@pytest.mark.parametrize(("raw", "message"), INVALID)
def test_invalid_configs_say_what_to_fix(raw: Any, message: str) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        validate_channel(raw)
    assert message in str(caught.value)
    assert str(caught.value) == str(caught.value).strip()
    assert str(caught.value)[0].islower()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ChannelConfigError) as caught:
        validate_channel({"type": "webhook", "url": "ftp://x", "minLevel": "loud", "colour": 1})
    assert len(caught.value.issues) == 3
    api = caught.value.to_api()
    assert api.status == 400
    assert api.body()["code"] == "VALIDATION_ERROR"
    assert api.body()["issues"] == caught.value.issues


def test_the_query_is_checked_by_the_injected_compiler() -> None:
    def compile_query(text: str) -> Any:
        if ":" not in text:
            raise ValueError(f'cannot parse query "{text}": expected field:value at 0')
        return lambda entry: True

    validate_channel(
        {"type": "slack", "url": "https://e.com", "query": "service:a"}, compile_query=compile_query
    )
    with pytest.raises(ChannelConfigError) as caught:
        validate_channel(
            {"type": "slack", "url": "https://e.com", "query": "oops"}, compile_query=compile_query
        )
    assert str(caught.value) == (
        'query "oops" is invalid: cannot parse query "oops": expected field:value at 0'
    )


def test_the_api_form_never_shows_the_secret() -> None:
    config = validate_channel({"type": "webhook", "url": "https://e.com", "secret": "hunter2"})
    shown = config.to_json()
    assert "hunter2" not in repr(shown)
    assert shown["signed"] is True
    assert shown["minLevel"] == "error"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10m", 600),
        ("1h 30m", 5400),
        ("90s", 90),
        ("1d", 86400),
        ("2H", 7200),
        (10, 600),
        ("15", 900),
        (0.5, 30),
    ],
)
def test_intervals(value: Any, seconds: float) -> None:
    assert parse_interval(value) == seconds


def test_default_config_notifies_errors_and_above() -> None:
    assert ChannelConfig(type="webhook", url="https://e.com").min_severity == 5
