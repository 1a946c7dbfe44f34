"""Format resolution: `?format=` beats Content-Type beats content sniffing."""

from __future__ import annotations

import pytest

from timberyard.errors import TimberyardError
from timberyard.formats import resolve
from timberyard.formats.detect import sniff

SEED_JSON = b"""{
  "logs": [
    {
      "level": "info",
      "message": "User signed in",
      "source": "api-server",
      "environment": "production",
      "data": {
        "userId": "user_123"
      }
    }
  ]
}"""
SEED_JSONL = (
    b'{"level":"error","message":"Connection refused","source":"api","environment":"production"}\n'
    b'{"level":"info","message":"Request completed","source":"api","environment":"production"}'
)
SEED_5424 = b"<165>1 2024-01-15T10:30:00.000Z myhost api 1234 - - Connection refused"
SEED_3164 = b"<34>Jan 15 10:30:00 myhost api[1234]: Connection refused"
SEED_TEXT = (
    b"2024-01-15 10:30:00 ERROR Connection refused to database\n"
    b"2024-01-15 10:30:01 INFO Retrying connection..."
)
SEED_CSV = (
    b"level,message,source,timestamp\n"
    b"error,Connection refused,api,1705312200000\n"
    b"info,Request completed,api,1705312201000"
)
SEED_OBL = b"""{
  "format": "open-board-log-0.1",
  "user_id": "user_abc",
  "source": "my-aac-app",
  "sessions": []
}"""
OTLP = b'{"resourceLogs": [{"resource": {}, "scopeLogs": []}]}'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (SEED_JSON, "json"),
        (b'[{"message": "a"}, {"message": "b"}]', "json"),
        (b'{"message": "single"}', "json"),
        (b'{"message": "single"}\n\n', "json"),
        (b'  \n{"entries": [{"message": "a"}]}', "json"),
        (SEED_JSONL, "jsonl"),
        (SEED_JSONL.replace(b"\n", b"\r\n") + b"\r\n", "jsonl"),
        (b'{"message": "a"}\n{"message": "b", "nested": {"x": [1, 2]}}', "jsonl"),
        (b'{"message": "a"}\n{"message": "broken', "jsonl"),
        (SEED_5424, "syslog"),
        (SEED_3164, "syslog"),
        (b"\n  <14>1 - - - - - - indented", "syslog"),
        (SEED_TEXT, "text"),
        (b"hello, world", "text"),
        (b"<not a pri> hello", "text"),
        (SEED_CSV, "csv"),
        (b"timestamp\tlevel\tmessage\n1705312200000\tinfo\thello", "csv"),
        (b'"level","Message"\ninfo,hello', "csv"),
        (b"\xef\xbb\xbflevel,message\ninfo,hello", "csv"),
        (b"level,source\ninfo,api", "text"),
        (b"error, the message was lost\n", "text"),
        (SEED_OBL, "obl"),
        (b'/* exported 2024-01-15 */\n{"format": "open-board-log-0.1", "sessions": []}', "obl"),
        (b'{"sessions": [], "format" : "open-board-log-0.2"}', "obl"),
        (b"/* unclosed comment", "obl"),
        (b'{"message": "see open-board-log-0.1 for details"}', "json"),
        (OTLP, "otlp"),
        (b"", "json"),
        (b"  \n\t", "json"),
    ],
)
def test_sniff(body: bytes, expected: str) -> None:
    assert sniff(body) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", "json"),
        ("application/x-ndjson", "jsonl"),
        ("application/x-syslog", "syslog"),
        ("text/plain", "text"),
        ("text/csv", "csv"),
        ("application/x-obl", "obl"),
        ("text/plain; charset=utf-8", "text"),
        ("TEXT/CSV", "csv"),
    ],
)
def test_seed_content_types(content_type: str, expected: str) -> None:
    # The body looks like JSON, so only the Content-Type can decide.
    assert resolve(None, content_type, b'{"message": "x"}') == expected


@pytest.mark.parametrize(
    ("format_param", "content_type", "body", "expected"),
    [
        # ?format= beats Content-Type and the content.
        ("csv", "application/json", SEED_JSON, "csv"),
        ("syslog", "text/plain", SEED_TEXT, "syslog"),
        ("SYSLOG", None, SEED_TEXT, "syslog"),
        ("ndjson", None, SEED_JSON, "jsonl"),
        ("obl", "application/json", SEED_JSON, "obl"),
        # Content-Type beats the content.
        (None, "text/csv", SEED_JSONL, "csv"),
        (None, "text/plain", SEED_5424, "text"),
        (None, "application/x-obl", SEED_JSON, "obl"),
        (None, "application/json", SEED_OBL, "json"),
        (None, "application/json", OTLP, "otlp"),
        # No format and no informative Content-Type: sniffing.
        (None, None, SEED_CSV, "csv"),
        (None, "", SEED_3164, "syslog"),
        (None, "application/octet-stream", SEED_OBL, "obl"),
        (None, "application/x-www-form-urlencoded", SEED_5424, "syslog"),
        (None, None, SEED_JSONL, "jsonl"),
        (None, None, SEED_TEXT, "text"),
        ("", None, SEED_JSON, "json"),
    ],
)
def test_resolve_priority(
    format_param: str | None, content_type: str | None, body: bytes, expected: str
) -> None:
    assert resolve(format_param, content_type, body) == expected


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(TimberyardError) as caught:
        resolve("xml", "text/plain", b"x")
    assert caught.value.code == "BAD_REQUEST"
    assert "'xml'" in caught.value.message
