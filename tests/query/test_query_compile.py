"""Golden SQL: each query compiles to the SQL and parameters in golden_sql.json.

After an intended change to the compiler, regenerate the file with
`python tests/query/test_query_compile.py` and review the diff.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from timberyard.query import compile, parse
from timberyard.storage.schema import COLUMNS

GOLDEN = Path(__file__).with_name("golden_sql.json")
CASES: list[dict[str, Any]] = json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[case["query"] or "<empty>" for case in CASES])
def test_golden(case: dict[str, Any]) -> None:
    sql, params = compile(parse(case["query"]))
    assert sql == case["sql"]
    assert params == case["params"]
    assert {name: type(value) for name, value in params.items()} == {
        name: type(value) for name, value in case["params"].items()
    }


_PLACEHOLDER = re.compile(
    r"\{(p\d+):(?:String|Array\(String\)|Float64|Int64|UInt8|UInt16|UInt64)\}"
)
_OWN_LITERALS = re.compile(r"'(?:Int64|UInt64|Double)?'")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FUNCTIONS = {
    "position",
    "AND",
    "OR",
    "NOT",
    "IN",
    "hasAllTokens",
    "match",
    "positionCaseInsensitive",
    "startsWith",
    "has",
    "arrayExists",
    "tag",
    "notEmpty",
    "isNotNull",
    "ifNull",
    "fromUnixTimestamp64Nano",
    "JSONExtractString",
    "JSONExtractFloat",
    "JSONType",
    "JSONHas",
}


@pytest.mark.parametrize("case", CASES, ids=[case["query"] or "<empty>" for case in CASES])
def test_sql_holds_no_user_text(case: dict[str, Any]) -> None:
    """Besides placeholders: schema columns, known functions, our own literals, symbols."""
    sql, params = compile(parse(case["query"]))
    first_uses = list(dict.fromkeys(_PLACEHOLDER.findall(sql)))
    assert first_uses == list(params)
    rest = _OWN_LITERALS.sub(" ", _PLACEHOLDER.sub(" ", sql))
    words = set(_WORD.findall(rest))
    assert words <= _FUNCTIONS | set(COLUMNS), words - _FUNCTIONS - set(COLUMNS)
    assert re.fullmatch(r"[A-Za-z0-9_ (),=<>!-]*", rest), rest


def test_params_numbered_in_order() -> None:
    sql, params = compile(parse("a b a level:error fields.x:>1 fields.x:<5"))
    assert list(params) == [f"p{i}" for i in range(len(params))]
    assert list(dict.fromkeys(_PLACEHOLDER.findall(sql))) == list(params)
    assert params == {"p0": ["a"], "p1": ["b"], "p2": 5, "p3": '"x":', "p4": "x", "p5": 1.0,
                      "p6": 5.0}


def regenerate() -> None:
    """Rewrite golden_sql.json from the current compiler, keeping its queries."""
    cases = []
    for case in CASES:
        sql, params = compile(parse(case["query"]))
        cases.append({"query": case["query"], "sql": sql, "params": params})
    GOLDEN.write_text(json.dumps(cases, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    regenerate()
