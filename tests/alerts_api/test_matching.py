"""Channel queries match entry rows as ingestion hands them to the dispatcher."""

from __future__ import annotations

from typing import Any

import pytest

from timberyard import query as ql
from timberyard.alerts.matching import query_compiler
from timberyard.model import normalise

ROW = normalise(
    {
        "level": "error",
        "message": "Payment callback failed: missing transId",
        "service": "checkout",
        "fields": {"amount": 250, "route": "/api/pay"},
        "tags": ["billing"],
    },
    now_ns=1_767_225_600 * 10**9,
)


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("service:checkout", True),
        ("service:search", False),
        ("level:>=warn callback", True),
        ('"callback failed"', True),
        ("fields.amount:>100 tag:billing", True),
        ("fields.amount:<100", False),
        ("fields.route:/api/*", True),
        ("-service:checkout OR level:fatal", False),
    ],
)
def test_channel_queries_over_pipeline_rows(query: str, matches: bool) -> None:
    compile_query: Any = query_compiler()
    assert compile_query is not None
    assert compile_query(query)(ROW) is matches


def test_invalid_queries_raise_the_query_error() -> None:
    compile_query: Any = query_compiler()
    with pytest.raises(ql.QueryError):
        compile_query("level:=err")
