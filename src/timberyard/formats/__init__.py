"""Bytes in, entries out: the body formats of POST /v1/logs and their resolution.

Every parser is a pure function
`parse(body: bytes, now_ns: int, max_entries: int | None = None) -> Parsed`
that raises only `timberyard.errors.ParseError`. Given `max_entries`, it stops
once it holds `max_entries + 1` entries and sets `Parsed.truncated`, so that
refusing a body of millions of entries costs what the limit's worth does.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..errors import TimberyardError
from .base import Parsed

# format name -> module that implements it (imported on first use).
_MODULES: dict[str, str] = {
    "json": "json_",
    "jsonl": "jsonl",
    "syslog": "syslog",
    "text": "text",
    "csv": "csv_",
    "obl": "obl",
    "otlp": "otlp",  # OTLP/HTTP logs, protobuf or JSON; answered by api/otlp.py
}
FORMATS: tuple[str, ...] = tuple(_MODULES)

# Content-Type (without parameters, lower case) -> format.
CONTENT_TYPES: dict[str, str] = {
    "application/json": "json",
    "text/json": "json",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/jsonlines": "jsonl",
    "application/x-syslog": "syslog",
    "text/plain": "text",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/x-obl": "obl",
    "application/x-protobuf": "otlp",
    "application/protobuf": "otlp",
}

# Content types that say nothing about the format: fall through to sniffing.
_UNINFORMATIVE = frozenset({"", "application/octet-stream", "application/x-www-form-urlencoded"})


def parser(name: str) -> Callable[..., Parsed]:
    """The parse function of a format."""
    if name not in _MODULES:
        raise TimberyardError(
            "UNSUPPORTED_MEDIA_TYPE",
            f"the {name!r} format is not supported: send one of {', '.join(FORMATS)}",
        )
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    return module.parse


def canonical_name(format_param: str) -> str:
    """A `format` parameter as a format name: any case, `ndjson` for jsonl."""
    name = format_param.strip().lower()
    return "jsonl" if name == "ndjson" else name


def resolve(format_param: str | None, content_type: str | None, body: bytes) -> str:
    """The format of a body: `?format=` first, then Content-Type, then sniffing."""
    if format_param:
        name = canonical_name(format_param)
        if name not in _MODULES:
            # A bad parameter value, not an unsupported body: 400 (an unknown
            # Content-Type, by contrast, falls through to sniffing below).
            raise TimberyardError(
                "BAD_REQUEST",
                f"unknown format {format_param!r}: expected one of {', '.join(FORMATS)}",
            )
        return name
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in _UNINFORMATIVE:
        found = CONTENT_TYPES.get(media)
        if found:
            if found == "json" and b'"resourceLogs"' in body[:4096]:
                return "otlp"  # OTLP/HTTP JSON is sent as application/json
            return found
        if media.endswith("+json"):
            return "json"
    from .detect import sniff

    return sniff(body)


def detect_json(body: bytes) -> str:
    """json or jsonl for a body known to be JSON: several lines of objects are jsonl."""
    from .detect import sniff

    return "jsonl" if sniff(body) == "jsonl" else "json"


__all__ = ["FORMATS", "CONTENT_TYPES", "Parsed", "parser", "resolve"]
