"""The dashboard's pure JS modules, run in the browser against tables of cases."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Dashboard

pytestmark = pytest.mark.process

QUOTE_CASES = [
    ("api", "api"),
    ("billing worker", '"billing worker"'),
    ("/api/pay", "/api/pay"),
    ("http://x:8080/a", "http://x:8080/a"),
    ('say "hi"', '"say \\"hi\\""'),
    ("a\\b", '"a\\\\b"'),
    ("OR", '"OR"'),
    ("", '""'),
    ("x*", '"x*"'),
    ("(x)", '"(x)"'),
    ("5230", "5230"),
]

CLAUSE_CASES = [
    ("", "service:api", "service:api"),
    ("level:error", "service:api", "level:error service:api"),
    ("level:error service:api", "service:api", "level:error service:api"),
    ("a OR b", "service:api", "(a OR b) service:api"),
    ('"x OR y"', "service:api", '"x OR y" service:api'),
    ("(a OR b) c", "d:e", "(a OR b) c d:e"),
    ("service:api", "-service:api", "-service:api"),
    ("-service:api level:error", "service:api", "level:error service:api"),
    ("service:apiary", "service:api", "service:apiary service:api"),
]

# Chunks as they may arrive from the network -> the events they make.
SSE_CASES = [
    (["id: 1\nevent: log\ndata: {}\n\n"], [["1", "log", "{}"]]),
    (["id: 2\r\nevent: log\r\ndata: a\r\n\r\n"], [["2", "log", "a"]]),
    (["id: 3\r", "\nevent: log\r", "\ndata: b\r", "\n\r", "\n"], [["3", "log", "b"]]),
    (["data: x\n", "data: y\n\n"], [[None, "message", "x\ny"]]),
    ([": keep-alive\n\n", "retry: 2000\n\n"], []),
    (
        ["data:no-space\n\nda", "ta: two\n\n"],
        [[None, "message", "no-space"], [None, "message", "two"]],
    ),
    (["event: reconnect\nid: 0f\ndata: {}\n\n"], [["0f", "reconnect", "{}"]]),
]

RUN = """async ([quotes, clauses, sse]) => {
  const q = await import('/static/querytext.js');
  const { SSEParser } = await import('/static/sse.js');
  const out = {};
  out.quotes = quotes.map(([value]) => q.quoteValue(value));
  out.clauses = clauses.map(([query, clause]) => q.addClause(query, clause));
  out.sse = sse.map(([chunks]) => {
    const events = [];
    const parser = new SSEParser((e) => events.push([e.id, e.event, e.data]));
    chunks.forEach((c) => parser.push(c));
    return events;
  });
  out.utf16 = q.utf16Index('😀 level:=', 8);
  return out;
}"""


def test_query_text_and_event_stream_modules(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    out = page.evaluate(RUN, [QUOTE_CASES, CLAUSE_CASES, SSE_CASES])
    assert out["quotes"] == [expected for _, expected in QUOTE_CASES]
    assert out["clauses"] == [expected for _, _, expected in CLAUSE_CASES]
    assert out["sse"] == [expected for _, expected in SSE_CASES]
    assert out["utf16"] == 9  # the server counts code points; the emoji is two UTF-16 units
