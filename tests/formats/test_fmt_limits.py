"""Defect 4 of issue 12: a body of millions of entries is refused for the cost of the limit's worth.

Parsers given `max_entries` stop once they hold `max_entries + 1` entries. The
tests count the entries each parser builds (never a wall-clock time), and check
over HTTP that a 10 KB gzip of 5 million lines is still a 400 naming the limit.
"""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from conftest import Harness
from timberyard.formats import csv_, obl, parser, syslog, text

NOW = 1_705_320_000_000_000_000
LIMIT = 1000
LINES = 1_000_000

# format -> (a body of LINES entries, the module function called once per entry)
BODIES: dict[str, tuple[bytes, Any, str]] = {
    "syslog": (b"<14>1 - h a - - - x\n" * LINES, syslog, "parse_line"),
    "text": (b"x\n" * LINES, text, "parse_line"),
    "csv": (b"message\n" + b"x\n" * LINES, csv_, "_entry"),
    "obl": (
        b'{"sessions": [{"events": [' + b'{"type": "note", "text": "x"},' * LINES + b"{}]}]}",
        obl,
        "_entry",
    ),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_parsers_stop_building_entries_past_the_limit(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, module, function = BODIES[name]
    original = getattr(module, function)
    calls = 0

    def counted(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(*args)

    monkeypatch.setattr(module, function, counted)
    parsed = parser(name)(body, NOW, max_entries=LIMIT)
    assert parsed.truncated and len(parsed.entries) == LIMIT + 1
    assert calls == LIMIT + 1


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("jsonl", b'{"message": "x"}\n' * LINES),
        ("jsonl", b"\n" * LINES + b'{"message": "x"}\n' * (LIMIT + 1)),
        ("json", b"[" + b"{}," * LINES + b"{}]"),
        ("json", b'{"logs": [' + b"1," * LINES + b"1]}"),
    ],
)
def test_json_parsers_cut_past_the_limit(name: str, body: bytes) -> None:
    parsed = parser(name)(body, NOW, max_entries=LIMIT)
    assert parsed.truncated and len(parsed.entries) == LIMIT + 1


@pytest.mark.parametrize("name", ["syslog", "text", "csv", "jsonl", "json", "obl"])
def test_at_the_limit_nothing_is_truncated(name: str) -> None:
    bodies = {
        "syslog": b"<14>1 - h a - - - x\n" * LIMIT,
        "text": b"x\n" * LIMIT + b"\n\n",
        "csv": b"message\n" + b"x\n" * LIMIT,
        "jsonl": b'{"message": "x"}\n' * LIMIT,
        "json": b"[" + b"{}," * (LIMIT - 1) + b"{}]",
        "obl": b'{"sessions": [{"events": [' + b"{}," * (LIMIT - 1) + b"{}]}]}",
    }
    parsed = parser(name)(bodies[name], NOW, max_entries=LIMIT)
    assert not parsed.truncated and len(parsed.entries) == LIMIT
    assert parser(name)(bodies[name], NOW).entries == parsed.entries


@pytest.mark.parametrize(
    ("fmt", "line"),
    [("text", b"x"), ("syslog", b"<1>x"), ("csv", b"x"), ("jsonl", b"{}")],
)
async def test_a_gzip_of_millions_of_lines_is_a_400_naming_the_limit(
    harness: Harness, fmt: str, line: bytes
) -> None:
    header = b"message\n" if fmt == "csv" else b""
    # As many lines as fit in the 10 MiB body limit, up to 5 million.
    count = min(5_000_000, 10_000_000 // (len(line) + 1))
    bomb = gzip.compress(header + (line + b"\n") * count, 9)
    assert len(bomb) < 40_000
    r = await harness.client.post(
        f"/v1/logs?format={fmt}",
        content=bomb,
        headers={**harness.auth("server"), "Content-Encoding": "gzip"},
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert "the limit is 1000" in body["error"] and body["error"].startswith("more than 1000")
