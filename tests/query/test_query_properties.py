"""Properties over arbitrary query text: only QueryError, and canonical forms round-trip."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from timberyard.query import QueryError, compile, parse

# Pieces that exercise every syntax path, mixed with arbitrary characters.
_SYNTAX = (
    "( ) \" \\ : * - + [ ] { } < > = ' AND OR NOT TO and level level: service: fields. fields.x:"
    " data.a.b: tag: stepIndex: timestamp: id: error warn 5 1.5 2024-01-15T10:30:00Z"
    " 00000000000000ff é 日本"
)
PIECES = st.sampled_from([*_SYNTAX.split(), " ", "  ", "\t", "\n", "\x00"])
QUERIES = st.lists(st.one_of(PIECES, st.text(max_size=3)), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(QUERIES)
def test_only_query_errors_and_round_trips(text: str) -> None:
    try:
        node = parse(text)
    except QueryError as exc:
        assert 0 <= exc.position <= len(text)
        assert exc.message.startswith("cannot parse query ")
        return
    canonical = node.canonical()
    assert parse(canonical) == node
    assert parse(canonical).canonical() == canonical
    sql, params = compile(node)
    rest = re.sub(r"\{p\d+:[A-Za-z0-9()]+\}|'(?:Int64|UInt64|Double)?'", " ", sql)
    assert re.fullmatch(r"[A-Za-z0-9_ (),=<>!-]+", rest), sql
    assert set(re.findall(r"\{(p\d+):", sql)) == set(params)
