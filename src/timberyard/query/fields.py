"""The fields a query can name: canonical names, aliases, kinds and value types."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

import msgspec

from ..errors import ValidationIssue
from ..model import LEVELS, STRING_FIELDS, iso_from_ns, parse_level, parse_time
from .limits import MAX_PATH_DEPTH


class Kind(Enum):
    """How a field's values are typed, compared and compiled."""

    TEXT = "text"  # tokenised full text: message, error_stack
    KEYWORD = "keyword"  # exact strings: service, host, ids...
    LEVEL = "level"  # a level name, compared by severity
    INT = "int"  # small non-negative integers
    TIME = "time"  # instants, ISO 8601 or ms since the epoch
    ID = "id"  # the entry id, 16 hex digits
    TAGS = "tags"  # an array of strings
    JSON = "json"  # a path into the free-form `fields` object


@dataclass(frozen=True)
class FieldSpec:
    """One queryable field: its canonical name, kind and storage column."""

    name: str
    kind: Kind
    column: str
    maximum: int = 0
    path: tuple[str, ...] = ()

    @property
    def comparable(self) -> bool:
        """Whether `>`, `<` and ranges apply."""
        return self.kind not in (Kind.TEXT, Kind.TAGS)

    @property
    def prefixable(self) -> bool:
        """Whether `value*` prefix matching applies."""
        return self.kind in (Kind.TEXT, Kind.KEYWORD, Kind.TAGS, Kind.JSON)


def _spec(name: str, kind: Kind, column: str | None = None, maximum: int = 0) -> FieldSpec:
    return FieldSpec(name, kind, column or name, maximum)


_SPECS: list[FieldSpec] = [
    _spec("message", Kind.TEXT),
    _spec("error_stack", Kind.TEXT),
    *(_spec(name, Kind.KEYWORD) for name in STRING_FIELDS if name != "error_stack"),
    _spec("project_id", Kind.KEYWORD),
    _spec("fingerprint", Kind.KEYWORD),  # the error group of error and fatal entries
    _spec("level", Kind.LEVEL),
    _spec("severity", Kind.INT, maximum=255),
    _spec("step_index", Kind.INT, maximum=65535),
    _spec("timestamp", Kind.TIME),
    _spec("received_at", Kind.TIME),
    _spec("id", Kind.ID),
    _spec("tag", Kind.TAGS, column="tags"),
]

# Canonical name -> spec, for every field but the JSON paths.
SPECS: dict[str, FieldSpec] = {spec.name: spec for spec in _SPECS}

# Lower-cased input name -> canonical name. Field names are case-insensitive.
ALIASES: dict[str, str] = {name: name for name in SPECS}
for _canon, _inputs in STRING_FIELDS.items():
    for _alias in _inputs:
        ALIASES[_alias.lower()] = _canon
ALIASES.update(
    {
        "msg": "message",
        "tags": "tag",
        "ts": "timestamp",
        "stepindex": "step_index",
        "receivedat": "received_at",
        "projectid": "project_id",
    }
)

# Roots of paths into the free-form object; `fields` is canonical.
JSON_ROOTS = ("fields", "data", "details")

# The syntax of a field name before `:`; a word whose text before its first
# colon does not match (like `12:30`) is searched as a word.
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-@$#]+)*")


def resolve(name: str) -> FieldSpec | None:
    """The spec for an input field name, or None when it names no field."""
    root, dot, rest = name.partition(".")
    if dot:
        if root.lower() not in JSON_ROOTS:
            return None
        path = tuple(rest.split("."))
        if len(path) > MAX_PATH_DEPTH or not all(path):
            return None
        return FieldSpec("fields." + rest, Kind.JSON, "fields", path=path)
    canonical = ALIASES.get(name.lower())
    return SPECS[canonical] if canonical else None


def spec_of(name: str) -> FieldSpec:
    """The spec for a canonical name found in an AST."""
    found = resolve(name)
    if found is None:
        raise KeyError(name)
    return found


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_HEX = re.compile(r"[0-9a-fA-F]{16}")
_DIGITS = re.compile(r"\d+")

Value = str | int


def is_number(text: str) -> bool:
    """Whether text is a finite decimal number (JSON or plain notation)."""
    return bool(_NUMBER.fullmatch(text)) and math.isfinite(float(text))


def parse_value(spec: FieldSpec, text: str, *, ordered: bool) -> Value:
    """The typed value of `text` for a field; `ordered` for comparisons and ranges.

    Raises ValueError whose message says what was expected.
    """
    kind = spec.kind
    if kind is Kind.LEVEL:
        try:
            return parse_level(text)
        except ValidationIssue:
            raise ValueError(f"one of {', '.join(LEVELS)}") from None
    if kind is Kind.INT:
        if not _DIGITS.fullmatch(text) or int(text) > spec.maximum:
            raise ValueError(f"an integer from 0 to {spec.maximum}")
        return int(text)
    if kind is Kind.TIME:
        try:
            return parse_time(text)
        except (ValidationIssue, ValueError, OverflowError):
            raise ValueError("an ISO 8601 time or milliseconds since the epoch") from None
    if kind is Kind.ID:
        if not _HEX.fullmatch(text):
            raise ValueError("an entry id of 16 hexadecimal digits")
        return int(text, 16)
    if kind is Kind.JSON and ordered and not is_number(text):
        raise ValueError("a number")
    if kind is Kind.TEXT:
        text = normalise_text(text)
        if not text:
            raise ValueError("a non-empty word or phrase")
    return text


_WHITESPACE = re.compile(r"[\t-\r ]+")


def normalise_text(text: str) -> str:
    """Full-text values with runs of ASCII whitespace collapsed to one space."""
    return _WHITESPACE.sub(" ", text).strip(" ")


def format_time(ns: int) -> str:
    """The canonical ISO 8601 text of an instant, with as many digits as it needs."""
    digits = 0
    if ns % 1_000_000_000:
        digits = 9 if ns % 1_000 else 6 if ns % 1_000_000 else 3
    return iso_from_ns(ns, digits)


def format_value(spec: FieldSpec, value: Value) -> str:
    """The canonical text of a typed value (before any quoting)."""
    if spec.kind is Kind.TIME:
        return format_time(int(value))
    if spec.kind is Kind.ID:
        return f"{int(value):016x}"
    return str(value)


def is_pair_guarded(path: tuple[str, ...], value: str) -> bool:
    """Whether `fields.<key>:value` can only match a JSON string at the top level.

    JSONExtractString() also renders other values as text (`true`, `12`, `{...}`,
    and null as ""), so only a value that no other JSON value renders as gets the
    pair guard.
    """
    return (
        len(path) == 1
        and value != ""
        and not is_number(value)
        and value not in ("true", "false")
        and not value.startswith(("{", "["))
    )


def pair_text(key: str, value: str) -> str:
    """`"key":"value"` as the stored JSON spells a top-level string member.

    In canonical JSON an unescaped quote always delimits a string, so this text
    occurs exactly where some object has that key with exactly that string value.
    """
    return f"{_stored(key)}:{_stored(value)}"


def _stored(text: str) -> str:
    """A string as the stored JSON spells it (msgspec: no spaces, UTF-8 kept)."""
    return msgspec.json.encode(text).decode()
