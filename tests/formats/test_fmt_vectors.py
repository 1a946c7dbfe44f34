"""Format parsers against the vectors in tests/formats/vectors/*.json.

Each vector is a body and either the exact raw entries (plus optionally the
line of each and a subset of the stored row that `normalise()` makes of each;
its timestamp as `seconds.nanoseconds`),
or the ParseError it must raise. Bodies are UTF-8 text; byte-level cases are in
test_fmt_robustness.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from timberyard.errors import ParseError, ValidationIssue
from timberyard.formats import parser
from timberyard.model import normalise, parse_time

VECTORS = Path(__file__).parent / "vectors"
NOW = "2024-01-15T12:00:00Z"


def load(name: str) -> list[dict[str, Any]]:
    """The vectors of one format."""
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def cases(kind: str) -> list[Any]:
    """pytest params of every format's success (`entries`) or failure (`error`) vectors."""
    params = []
    for name in ("syslog", "text", "csv", "obl"):
        for vector in load(name):
            if kind in vector:
                params.append(pytest.param(name, vector, id=f"{name}: {vector['name']}"))
    return params


def now_ns(vector: dict[str, Any]) -> int:
    return parse_time(vector.get("now", NOW))


@pytest.mark.parametrize(("name", "vector"), cases("entries"))
def test_parses(name: str, vector: dict[str, Any]) -> None:
    parsed = parser(name)(vector["body"].encode(), now_ns(vector))
    assert parsed.entries == vector["entries"]
    if "lines" in vector:
        assert parsed.lines == vector["lines"]
    elif parsed.lines is not None:
        assert len(parsed.lines) == len(parsed.entries)
    rows = vector.get("rows")
    if rows is None:
        return
    assert len(rows) == len(parsed.entries)
    for entry, expected in zip(parsed.entries, rows, strict=True):
        check_row(entry, expected, vector)


def check_row(entry: dict[str, Any], expected: dict[str, Any], vector: dict[str, Any]) -> None:
    """The stored row normalise() makes of an entry has the expected columns."""
    defaults = vector.get("defaults")
    if "rejected" in expected:
        with pytest.raises(ValidationIssue, match=expected["rejected"]):
            normalise(entry, defaults=defaults, now_ns=now_ns(vector))
        return
    row = normalise(entry, defaults=defaults, now_ns=now_ns(vector))
    for key, value in expected.items():
        if key == "fields":
            assert json.loads(row["fields"]) == value
        elif key == "timestamp":
            assert stored_timestamp(row) == value
        else:
            assert row.get(key) == value, key


def stored_timestamp(row: dict[str, Any]) -> str:
    """The row's instant as `seconds.nanoseconds` text, whichever column holds it."""
    if "ts_ns" in row:
        ns = row["ts_ns"]
        return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"
    return row["timestamp"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "vector"), cases("error"))
def test_rejects(name: str, vector: dict[str, Any]) -> None:
    error = vector["error"]
    with pytest.raises(ParseError) as caught:
        parser(name)(vector["body"].encode(), now_ns(vector))
    assert error["message"] in caught.value.message
    assert caught.value.line == error.get("line")
    if "column" in error:
        assert caught.value.column == error["column"]
    # Error messages are lower case (STYLE.md habit 4).
    assert caught.value.message[:1] == caught.value.message[:1].lower()


def test_every_vector_has_a_unique_name() -> None:
    for name in ("syslog", "text", "csv", "obl"):
        names = [vector["name"] for vector in load(name)]
        assert len(names) == len(set(names)), name
