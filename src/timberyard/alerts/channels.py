"""Notification channels of an organisation and the validation of their config."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import TimberyardError
from ..model import LEVEL_ALIASES, LEVELS, SEVERITY

CHANNEL_TYPES: tuple[str, ...] = ("webhook", "slack", "email")

_COMMON = ("type", "name", "minLevel", "query", "groupInterval", "enabled")
ALLOWED_KEYS: dict[str, tuple[str, ...]] = {
    "webhook": (*_COMMON, "url", "secret"),
    "slack": (*_COMMON, "url"),
    "email": (*_COMMON, "to"),
}

MAX_RECIPIENTS = 20
MAX_URL_LENGTH = 2048
MAX_QUERY_LENGTH = 2000
MAX_INTERVAL_SECONDS = 7 * 86400

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.I)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


@dataclass(frozen=True)
class ChannelConfig:
    """A validated channel configuration: where to send, and the rule for what."""

    type: str
    name: str = ""
    url: str | None = None
    secret: str | None = None
    to: tuple[str, ...] = ()
    min_level: str = "error"
    query: str | None = None
    # Seconds between notifications of one error group; None: the dispatcher's.
    group_interval: float | None = None
    enabled: bool = True

    @property
    def min_severity(self) -> int:
        """The severity of `min_level`."""
        return SEVERITY[self.min_level]

    def to_json(self) -> dict[str, Any]:
        """The camelCase API form; the secret is never shown, only whether one is set."""
        out: dict[str, Any] = {"type": self.type, "name": self.name}
        if self.url is not None:
            out["url"] = self.url
        if self.type == "webhook":
            out["signed"] = self.secret is not None
        if self.to:
            out["to"] = list(self.to)
        out["minLevel"] = self.min_level
        out["query"] = self.query
        out["groupInterval"] = self.group_interval
        out["enabled"] = self.enabled
        return out


@dataclass(frozen=True)
class Channel:
    """A channel as stored: its id, its organisation and its configuration."""

    id: str
    org_id: str
    config: ChannelConfig


class ChannelConfigError(ValueError):
    """A channel configuration that cannot be accepted; `issues` lists every reason."""

    def __init__(self, issues: list[str]) -> None:
        super().__init__("; ".join(issues))
        self.issues = issues

    def to_api(self) -> TimberyardError:
        """The VALIDATION_ERROR the HTTP layer answers with."""
        return TimberyardError("VALIDATION_ERROR", str(self), issues=self.issues)


def validate_channel(
    raw: Any, *, compile_query: Callable[[str], object] | None = None
) -> ChannelConfig:
    """A ChannelConfig from the API's JSON object, or ChannelConfigError saying what to fix.

    `compile_query`, when given, is called on the rule's query so that a query
    that does not parse is rejected here rather than never matching later.
    """
    if not isinstance(raw, dict):
        raise ChannelConfigError([f"a channel must be a JSON object, got {type(raw).__name__}"])
    kind = raw.get("type")
    expected = "expected webhook, slack or email"
    if kind is None:
        raise ChannelConfigError([f"type is required: {expected}"])
    if kind not in CHANNEL_TYPES:
        raise ChannelConfigError([f"unknown channel type {_q(kind)}: {expected}"])
    issues: list[str] = []
    allowed = ALLOWED_KEYS[kind]
    for key in raw:
        if key not in allowed:
            issues.append(
                f"unknown key {_q(key)} for a {kind} channel: expected {', '.join(allowed[1:])}"
            )
    values: dict[str, Any] = {"type": kind}
    checks: list[tuple[str, Callable[[Any], Any]]] = [
        ("name", _name),
        ("minLevel", _min_level),
        ("groupInterval", parse_interval),
        ("enabled", _enabled),
    ]
    if kind in ("webhook", "slack"):
        checks.append(("url", _url))
    if kind == "webhook":
        checks.append(("secret", _secret))
    if kind == "email":
        checks.append(("to", _recipients))
    for key, check in checks:
        value = raw.get(key)
        if value is None:
            if key in ("url", "to"):
                what = "an http(s) URL" if key == "url" else "one or more email addresses"
                issues.append(f"{key} is required for a {kind} channel: expected {what}")
            continue
        try:
            values[_SNAKE.get(key, key)] = check(value)
        except ValueError as exc:
            issues.append(str(exc))
    query = raw.get("query")
    if query is not None:
        try:
            values["query"] = _query(query, compile_query)
        except ValueError as exc:
            issues.append(str(exc))
    if issues:
        raise ChannelConfigError(issues)
    return ChannelConfig(**values)


_SNAKE = {"minLevel": "min_level", "groupInterval": "group_interval"}


def parse_interval(value: Any) -> float:
    """Seconds for an interval: "10m", "1h 30m", "90s", or a number of minutes."""
    problem = f'groupInterval {_q(value)} is not an interval: expected "10m", "1h 30m" or minutes'
    if isinstance(value, bool):
        raise ValueError(problem)
    if isinstance(value, int | float):
        seconds = float(value) * 60
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text) * 60
        elif text and re.fullmatch(rf"(?:{_DURATION_PART.pattern}\s*)+", text, re.I):
            seconds = sum(
                float(n) * _UNIT_SECONDS[u.lower()] for n, u in _DURATION_PART.findall(text)
            )
        else:
            raise ValueError(problem)
    else:
        raise ValueError(problem)
    if not 0 < seconds <= MAX_INTERVAL_SECONDS:
        raise ValueError(f"groupInterval {_q(value)} must be above 0 and at most 7 days")
    return seconds


def _q(value: Any) -> str:
    """Quote an offending input for a message, shortened."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return '"' + text.replace('"', '\\"') + '"'


def _name(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 100:
        raise ValueError(f"name {_q(value)} must be a string of at most 100 characters")
    return value


def _min_level(value: Any) -> str:
    level = LEVEL_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if level is None:
        raise ValueError(
            f"minLevel {_q(value)} is not a level: expected one of {', '.join(LEVELS)}"
        )
    return level


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"enabled {_q(value)} must be true or false")
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"url {_q(value)} must be an http(s) URL")
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"url is {len(value)} characters long; the limit is {MAX_URL_LENGTH}")
    if any(ch.isspace() for ch in value):
        raise ValueError(f"url {_q(value)} must not contain whitespace")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"url {_q(value)} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"url {_q(value)} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"url {_q(value)} has no host")
    return value


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise ValueError("secret must be a non-empty string of at most 256 characters")
    return value


def _recipients(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[Any] = [part.strip() for part in value.split(",")]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"to {_q(value)} must be an email address or a list of them")
    if not items or items == [""]:
        raise ValueError("to must name at least one email address")
    if len(items) > MAX_RECIPIENTS:
        raise ValueError(f"to names {len(items)} addresses; the limit is {MAX_RECIPIENTS}")
    for item in items:
        if not isinstance(item, str) or not _EMAIL.fullmatch(item):
            raise ValueError(f"to: {_q(item)} is not a valid email address")
    return tuple(items)


def _query(value: Any, compile_query: Callable[[str], object] | None) -> str | None:
    if not isinstance(value, str):
        raise ValueError(f"query {_q(value)} must be a string")
    if not value.strip():
        return None
    if len(value) > MAX_QUERY_LENGTH:
        raise ValueError(f"query is {len(value)} characters long; the limit is {MAX_QUERY_LENGTH}")
    if compile_query is not None:
        try:
            compile_query(value)
        except Exception as exc:  # the query module's own error, whatever its class
            raise ValueError(f"query {_q(value)} is invalid: {exc}") from None
    return value
