"""The raw body formats of POST /v1/logs and the Content-Type each is sent with."""

from __future__ import annotations

# Seed 003: the SDK sets Content-Type per format.
CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "syslog": "application/x-syslog",
    "text": "text/plain",
    "csv": "text/csv",
    "obl": "application/x-obl",
}
FORMATS: tuple[str, ...] = tuple(CONTENT_TYPES)


def content_type(fmt: str) -> str:
    """The Content-Type of a format; ValueError naming the formats for an unknown one."""
    name = fmt.strip().lower()
    if name == "ndjson":
        name = "jsonl"
    if name not in CONTENT_TYPES:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return CONTENT_TYPES[name]


def canonical(fmt: str) -> str:
    """The canonical name of a format (`ndjson` is `jsonl`)."""
    content_type(fmt)
    name = fmt.strip().lower()
    return "jsonl" if name == "ndjson" else name
