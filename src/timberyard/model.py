"""The canonical log entry: levels, input aliases, limits and normalisation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from .errors import ValidationIssue

LEVELS: tuple[str, ...] = ("trace", "debug", "info", "success", "warn", "error", "fatal")
SEVERITY: dict[str, int] = {name: i for i, name in enumerate(LEVELS)}
# Error and fatal: fingerprinted into error groups, stored in parts of their own.
ERROR_SEVERITY = SEVERITY["error"]

# Case-insensitive input spellings of the levels (SPEC §1).
LEVEL_ALIASES: dict[str, str] = {name: name for name in LEVELS}
LEVEL_ALIASES.update(
    {
        "warning": "warn",
        "critical": "fatal",
        "crit": "fatal",
        "err": "error",
        "information": "info",
        "informational": "info",
        "notice": "info",
        "dbg": "debug",
        "emergency": "fatal",
        "emerg": "fatal",
        "alert": "fatal",
        "verbose": "trace",
    }
)


def parse_level(value: Any) -> str:
    """The canonical level for an input spelling, or a ValidationIssue."""
    if isinstance(value, str):
        found = LEVEL_ALIASES.get(value) or LEVEL_ALIASES.get(value.strip().lower())
        if found:
            return found
    raise ValidationIssue(
        f"unknown level {value!r}: expected one of {', '.join(LEVELS)}"
        " (or warning, critical, err, information, dbg, emergency, alert)"
    )


# Canonical string columns and the input keys that name them.
STRING_FIELDS: dict[str, tuple[str, ...]] = {
    "service": ("service", "source", "app"),
    "environment": ("environment", "env"),
    "dataset": ("dataset",),
    "host": ("host", "hostname"),
    "instance_id": ("instance_id", "instanceId"),
    "version": ("version",),
    "user_id": ("user_id", "userId"),
    "session_id": ("session_id", "sessionId"),
    "request_id": ("request_id", "requestId"),
    "flow_id": ("flow_id", "flowId"),
    "trace_id": ("trace_id", "traceId"),
    "span_id": ("span_id", "spanId"),
    "error_name": ("error_name", "errorName"),
    "error_stack": ("error_stack", "errorStack"),
}

# camelCase names used in API output for the snake_case columns.
CAMEL: dict[str, str] = {
    "instance_id": "instanceId",
    "user_id": "userId",
    "session_id": "sessionId",
    "request_id": "requestId",
    "flow_id": "flowId",
    "trace_id": "traceId",
    "span_id": "spanId",
    "error_name": "errorName",
    "error_stack": "errorStack",
    "step_index": "stepIndex",
    "project_id": "projectId",
    "received_at": "receivedAt",
}

# Input key -> (kind, canonical name). Kinds: s string, m message, l level,
# t timestamp, g tags, f fields, i step index.
_KEYS: dict[str, tuple[str, str]] = {}
for _canon, _aliases in STRING_FIELDS.items():
    for _alias in _aliases:
        _KEYS[_alias] = ("s", _canon)
_KEYS.update(
    {
        "message": ("m", "message"),
        "level": ("l", "level"),
        "timestamp": ("t", "timestamp"),
        "tags": ("g", "tags"),
        "fields": ("f", "fields"),
        "data": ("f", "fields"),
        "details": ("f", "fields"),
        "step_index": ("i", "step_index"),
        "stepIndex": ("i", "step_index"),
    }
)
# Keys that the server assigns; an input value for them is kept in `fields`.
_SERVER_KEYS = frozenset({"id", "received_at", "receivedAt", "project_id", "projectId", "severity"})

# Per-field length limits in characters (the message limit is in bytes).
MAX_LENGTH: dict[str, int] = {
    "service": 100,
    "environment": 100,
    "dataset": 100,
    "host": 255,
    "instance_id": 255,
    "version": 100,
    "user_id": 255,
    "session_id": 255,
    "request_id": 255,
    "flow_id": 255,
    "trace_id": 255,
    "span_id": 255,
    "error_name": 255,
    "error_stack": 65536,
}
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_STEP_INDEX = 1000
MAX_FIELDS_BYTES = 65536

# Timestamps Timberyard accepts: 1970-01-01 up to 2262 (DateTime64(9)'s range).
_MAX_NS = 9_223_372_036_000_000_000


@dataclass(frozen=True)
class Limits:
    """Per-request limits (configurable; the browser endpoint is stricter)."""

    max_entries: int = 1000
    max_message_bytes: int = 65536
    max_body_bytes: int = 10 * 1024 * 1024


DEFAULT_LIMITS = Limits()
BROWSER_LIMITS = Limits(max_entries=100, max_message_bytes=16384, max_body_bytes=1024 * 1024)

_FRACTION = re.compile(r"[.,](\d+)")
_encode = msgspec.json.Encoder().encode


def parse_time(value: Any) -> int:
    """Nanoseconds since the epoch for an ISO 8601 string or a number.

    Numbers are read by magnitude: seconds, milliseconds, microseconds or
    nanoseconds, so that `1705312200`, `1705312200000` and OTLP's
    nanoseconds all mean the same instant.
    """
    if type(value) is str and not value.isdigit() and not _long_fraction(value):
        try:
            # Fast path: the C parser takes ISO 8601 up to microseconds, with Z.
            moment = _fromisoformat(value)
        except ValueError:
            ns = _parse_time_slow(value)
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            ns = (moment - _EPOCH) // _ONE_US * 1000
    else:
        ns = _parse_time_slow(value)
    if not 0 <= ns < _MAX_NS:
        raise ValidationIssue(f"timestamp {value!r} is out of range (1970 to 2262)")
    return ns


def _long_fraction(text: str) -> bool:
    """Whether an ISO string has more than microsecond digits (the C parser drops them)."""
    if len(text) < 27:
        return False
    match = _FRACTION.search(text, 10)
    return match is not None and len(match.group(1)) > 6


def _parse_time_slow(value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationIssue(f"invalid timestamp {value!r}: expected ISO 8601 or milliseconds")
    if isinstance(value, int | float):
        return _number_to_ns(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValidationIssue('invalid timestamp "": expected ISO 8601 or milliseconds')
        try:
            if text.isdigit():
                return _number_to_ns(int(text))
            return _number_to_ns(float(text)) if _looks_numeric(text) else _iso_to_ns(text)
        except (ValueError, OverflowError):
            raise ValidationIssue(
                f"invalid timestamp {value!r}: expected ISO 8601 (2024-01-15T10:30:00Z)"
                " or milliseconds since the epoch"
            ) from None
    raise ValidationIssue(f"invalid timestamp {value!r}: expected ISO 8601 or milliseconds")


def _looks_numeric(text: str) -> bool:
    return text.replace(".", "", 1).lstrip("-").isdigit()


def _number_to_ns(number: float) -> int:
    if number != number or number in (float("inf"), float("-inf")):
        raise ValidationIssue("invalid timestamp: not a finite number")
    magnitude = abs(number)
    if magnitude < 1e11:
        if isinstance(number, int):
            return number * 1_000_000_000
        # A float carries about microsecond precision at this magnitude.
        return int(round(number * 1_000_000)) * 1_000
    if magnitude < 1e14:
        if isinstance(number, int):
            return number * 1_000_000
        return int(round(number * 1_000_000))
    if magnitude < 1e17:
        return int(number) * 1_000 if isinstance(number, int) else int(round(number * 1_000))
    return int(number)


def _iso_to_ns(text: str) -> int:
    nanos: int | None = None
    match = _FRACTION.search(text, 10)
    if match and len(match.group(1)) > 6:
        # datetime keeps microseconds only; carry the full fraction ourselves.
        nanos = int(match.group(1)[:9].ljust(9, "0"))
        text = text[: match.start()] + text[match.end() :]
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    base = (delta.days * 86400 + delta.seconds) * 1_000_000_000
    return base + (nanos if nanos is not None else delta.microseconds * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_fromisoformat = datetime.fromisoformat


def iso_from_ns(ns: int, digits: int = 3) -> str:
    """An ISO 8601 UTC string (`2024-01-15T10:30:00.000Z`) for a nanosecond instant."""
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    fraction = f"{rest:09d}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + "Z"


def _string(name: str, value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None:
        raise ValidationIssue(f"{name} must be a string, got {value!r}")
    elif isinstance(value, int | float):
        text = str(value)
    else:
        raise ValidationIssue(f"{name} must be a string, got {type(value).__name__}")
    limit = MAX_LENGTH[name]
    if len(text) > limit:
        raise ValidationIssue(f"{name} is {len(text)} characters long; the limit is {limit}")
    return text


def normalise(
    raw: Any,
    *,
    defaults: dict[str, str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    now_ns: int,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Turn one input entry into a canonical row (storage column names).

    Unknown top-level keys are kept in `fields` so nothing is dropped. `base`
    holds columns common to the request (project, arrival time), copied first.
    Raises ValidationIssue with a reason that says what to fix.
    """
    if type(raw) is not dict:
        raise ValidationIssue(f"an entry must be a JSON object, got {type(raw).__name__}")
    row: dict[str, Any] = base.copy() if base else {}
    extra: dict[str, Any] | None = None
    fields: dict[str, Any] | None = None
    message: Any = None
    level: Any = None
    timestamp: Any = None
    for key, value in raw.items():
        spec = _KEYS.get(key)
        if spec is None:
            if extra is None:
                extra = {}
            extra[key] = value
            continue
        kind, name = spec
        if value is None:
            continue
        if kind == "s":
            if name not in row:
                if type(value) is str and len(value) <= MAX_LENGTH[name]:
                    row[name] = value
                else:
                    row[name] = _string(name, value)
        elif kind == "m":
            message = value
        elif kind == "l":
            level = value
        elif kind == "t":
            timestamp = value
        elif kind == "f":
            if not isinstance(value, dict):
                raise ValidationIssue(f"{key} must be a JSON object, got {type(value).__name__}")
            fields = value if fields is None else {**fields, **value}
        elif kind == "g":
            row["tags"] = _tags(value)
        else:
            row["step_index"] = _step_index(value)

    if isinstance(message, str):
        if not message.strip():
            raise ValidationIssue("message must not be empty")
    elif message is None:
        raise ValidationIssue("message is required")
    elif isinstance(message, dict | list):
        message = _encode(message).decode()
    elif isinstance(message, bool):
        raise ValidationIssue(f"message must be a string, got {message!r}")
    else:
        message = str(message)
    cap = limits.max_message_bytes
    if len(message) * 4 > cap and len(message.encode()) > cap:
        raise ValidationIssue(
            f"message is {len(message.encode())} bytes long; the limit is {cap} bytes"
        )

    if level is None and defaults:
        level = defaults.get("level")
    row["level"] = parse_level(level) if level is not None else "info"
    row["severity"] = SEVERITY[row["level"]]
    row["message"] = message
    row["ts_ns"] = parse_time(timestamp) if timestamp is not None else now_ns

    if extra:
        for key in _SERVER_KEYS.intersection(extra):
            extra[f"_{key}"] = extra.pop(key)
        fields = {**extra, **fields} if fields else extra
    if fields:
        if "service" not in row:
            service = fields.get("service")
            if isinstance(service, str) and 0 < len(service) <= MAX_LENGTH["service"]:
                row["service"] = service
        encoded = _encode(fields)
        if len(encoded) > MAX_FIELDS_BYTES:
            raise ValidationIssue(
                f"fields are {len(encoded)} bytes as JSON; the limit is {MAX_FIELDS_BYTES}"
            )
        row["fields"] = encoded.decode()
    if defaults:
        for name in ("service", "environment", "dataset"):
            if name not in row and defaults.get(name):
                row[name] = defaults[name]
    if "dataset" not in row:
        row["dataset"] = "default"
    return row


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValidationIssue(f"tags must be a list of strings, got {type(value).__name__}")
    if len(value) > MAX_TAGS:
        raise ValidationIssue(f"{len(value)} tags given; the limit is {MAX_TAGS}")
    for tag in value:
        if not isinstance(tag, str):
            raise ValidationIssue(f"tags must be strings, got {tag!r}")
        if len(tag) > MAX_TAG_LENGTH:
            raise ValidationIssue(
                f"tag {tag[:60]!r} is {len(tag)} characters long; the limit is {MAX_TAG_LENGTH}"
            )
    return value


def _step_index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationIssue(f"stepIndex must be an integer from 0 to 1000, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValidationIssue(
            f"stepIndex must be an integer from 0 to 1000, got {value!r}"
        ) from None
    if number != float(value) or not 0 <= number <= MAX_STEP_INDEX:
        raise ValidationIssue(f"stepIndex must be an integer from 0 to 1000, got {value!r}")
    return number


_fastmodel: Any
try:
    from . import _fastmodel
except ImportError:  # built without a C compiler: normalise() does all the work
    _fastmodel = None
else:
    _fastmodel.configure(
        _KEYS,
        MAX_LENGTH,
        LEVEL_ALIASES,
        SEVERITY,
        _SERVER_KEYS,
        _encode,
        max_ns=_MAX_NS,
        max_fields_bytes=MAX_FIELDS_BYTES,
        max_tags=MAX_TAGS,
        max_tag_length=MAX_TAG_LENGTH,
        max_step_index=MAX_STEP_INDEX,
    )

COMPILED = _fastmodel is not None


def normalise_many(
    entries: list[Any],
    *,
    defaults: dict[str, str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    now_ns: int,
    base: dict[str, Any] | None = None,
) -> list[dict[str, Any] | None]:
    """normalise() of each entry through the compiled path: a row, or None for an
    entry that normalise() itself must decide (an invalid or unusual one)."""
    if _fastmodel is None:
        return [None] * len(entries)
    result: list[dict[str, Any] | None] = _fastmodel.normalise_many(
        entries, defaults, limits.max_message_bytes, now_ns, base
    )
    return result
