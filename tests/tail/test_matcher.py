"""The Python matcher selects exactly the rows that the compiled SQL selects in ClickHouse."""

from __future__ import annotations

import json
import random
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from timberyard.query import compile, parse
from timberyard.query.ast import quote
from timberyard.query.matcher import matcher
from timberyard.storage import schema
from timberyard.storage.entries import EntryStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "query"))
import test_query_execute as execute  # noqa: E402
from test_query_execute import store  # noqa: E402,F401  (registers the fixture here)


@pytest.fixture(scope="module")
def clickhouse(request: pytest.FixtureRequest) -> Any:
    """The execution test's table of rows in ClickHouse (its `store` fixture)."""
    return request.getfixturevalue("store")

LEVELS = ["trace", "debug", "info", "success", "warn", "error", "fatal"]

# Beyond the execution table: more edges, judged by ClickHouse itself.
EXTRA = [
    'service:""',
    'fields.route:""',
    "error_stack:*",
    "-error_stack:*",
    'errorStack:"TypeError: x"',
    "errorStack:APP.JS",
    "receivedAt:>=2024-01-15T09:50:20Z",
    "receivedAt:[1705312205000 TO 1705312210000}",
    "id:[0000000000000003 TO 0000000000000009]",
    "id:{0000000000000003 TO *]",
    "severity:>=4",
    "severity:[1 TO 3]",
    "stepIndex:<=3",
    "NOT stepIndex:<=3",
    "stepIndex:{* TO 5}",
    "tag:db OR tag:stripe",
    "tag:b*",
    "-tag:bill*",
    "fields.status:*",
    "fields.status:[* TO 300]",
    "NOT fields.status:200",
    "fields.user.id:[7 TO 7]",
    "fields.user.name:a*",
    "fields.big:1e20",
    "fields.big:100000000000000000000",
    "fields.neg:[-10 TO -1]",
    "fields.ok:*",
    "fields.ok:true*",
    "fields.nope:*",
    "fields.service.x:*",
    "fields.durationMs:5230.0",
    "service:[* TO b}",
    "service:<=api",
    "host:*",
    "version:1.2*",
    "projectId:p2",
    "projectId:p*",
    "level:[* TO warn]",
    "level:>=warning -level:fatal",
    '"in 12ms"',
    "12ms*",
    '"connected to"*',
    "connection* refused*",
    '"ECONNREFUSED:54"*',
    '"econnrefused:5432"',
    "econnrefused* -5432",
    '"q!q q\\"q"',
    '"kill process"',
    '"process 4242"*',
    '"of undefined"',
    "property",
    "'x'",
    '"\'x\'"',
    "naïve",
    "NAÏVE",
    "naïv*",
    "Ü*",
    "ü*",
    "日本*",
    '"日本語"',
    "(level:info OR level:warn) AND NOT (service:api OR service:web) AND -heartbeat",
    "NOT (NOT connection OR NOT refused)",
    "a OR b OR c OR connection OR heartbeat",
    "timestamp:[2024-01-15T09:50:01Z TO 2024-01-15T09:50:10Z] level:>=info fields.status:*",
    "timestamp:*",
    "-timestamp:*",
]


def pipeline_rows() -> list[dict[str, Any]]:
    """The table's rows as the ingestion pipeline hands them to listeners."""
    rows = []
    for ident, (level, message, extra) in execute.ROWS.items():
        row: dict[str, Any] = {
            "project_id": "p1",
            **execute.instants(execute.BASE + ident),
            "id": ident,
            "level": level,
            "severity": LEVELS.index(level),
            "message": message,
            **extra,
        }
        if "fields" in row:
            row["fields"] = json.dumps(row["fields"], separators=(",", ":"), ensure_ascii=False)
        rows.append(row)
    return rows


ROWS = pipeline_rows()
QUERIES = [query for query, _ in execute.CASES] + EXTRA
PUNCTUATION = [
    f'"q{esc}q"' for esc in ("\\" + ch if ch in '"\\' else ch for ch in execute.PUNCTUATION)
] + [f'"q{esc}"*' for esc in ("\\" + ch if ch in '"\\' else ch for ch in execute.PUNCTUATION)]


def matched(query: str) -> list[int]:
    match = matcher(parse(query))
    return [row["id"] for row in ROWS if match(row)]


@pytest.mark.parametrize("query", QUERIES + PUNCTUATION)
def test_same_rows_as_clickhouse(clickhouse: Any, query: str) -> None:
    assert matched(query) == execute.select_ids(clickhouse, query)


@pytest.mark.parametrize(("query", "ids"), execute.CASES)
def test_table_expectations(query: str, ids: list[int]) -> None:
    assert matched(query) == sorted(ids)


def test_shared_caches_do_not_leak_between_rows() -> None:
    """Predicates interleaved over rows (as the broker runs them) give the same answers."""
    predicates = [matcher(parse(q)) for q in ("connection", "fields.status:200", "heartbeat")]
    alone = [[row["id"] for row in ROWS if p(row)] for p in predicates]
    together: list[list[int]] = [[] for _ in predicates]
    for row in ROWS:
        for out, p in zip(together, predicates, strict=True):
            if p(row):
                out.append(row["id"])
    assert together == alone


def test_missing_columns_read_as_defaults() -> None:
    row = {"project_id": "p", "id": 1, "ts_ns": 0, "received_ms": 0, "level": "info",
           "severity": 2, "message": "x"}
    expect = {
        'service:""': True, "service:*": False, "tag:*": False, "-stepIndex:1": True,
        "stepIndex:*": False, "fields.a:*": False, "error_stack:*": False,
    }
    for query, result in expect.items():
        assert matcher(parse(query))(row) is result, query


# Rows whose free-form fields and text exercise JSON typing and serialisation.
# `fields` is JSON text as sent (the store keeps it verbatim).
EDGE_FIELDS = [
    '{"v":true,"w":false,"n":null}',
    '{"v":[1, 2,  "a b"],"w":{"x" : 1.50, "y":[true,null]}}',
    '{"v":"true","w":"1.5","n":"null"}',
    '{"v":1e20,"w":1E5,"n":-0.0}',
    '{"v":18446744073709551615,"w":18446744073709551616,"n":-9223372036854775809}',
    '{"v":0.000001,"w":1e-7,"n":123456789.123456789}',
    '{"v":["\\u00e9","\\n","\\"","/","\\u0001","\\u2028","\\\\"],"w":{"k\\"q":null}}',
    '{"v":{"a":{"b":{"c":"deep"}}},"w":[{"a":1}],"n":{}}',
    '{"v":"caf\\u00e9","w":"","n":[]}',
    '{"v":1,"v2":2,"w":-5,"n":0}',
    '{"v":1.7976931348623157e308,"w":5e-324}',
    'not json',
    '[1,2,3]',
    '{"v":1e400}',
    '{"v":"\\ud800"}',
    '{"s":"api","t":{"s":"web"}}',
    '{"t":{"s":"api"},"s":"web"}',
    '{"s":"a\\"pi","u":"\\"s\\":\\"api\\""}',
    '{"s":"api2","u":"api"}',
]
EDGE_MESSAGES = [
    "tab\tseparated\tvalues",
    "line one\nline two",
    "CamelCaseWord and camelcaseword",
    "MiXeD ÀÉ àé",
    "x" * 300 + " needle",
    "trailing dot.",
    ".leading dot",
    "a-b_c.d/e",
    "\u2028separator\u2028",
    "emoji 😀 here",
    "under_score user_id",
    "x",
    "12:30:45 time",
    "a  b",
    "nul\x00",
]
EDGE_QUERIES = [
    "fields.v:true", "fields.v:tr*", "fields.w:false", "fields.n:*", "fields.n:null",
    "fields.n:\"\"", "fields.v:\"[1,2,\\\"a b\\\"]\"", "fields.v:\"[1,2\"*",
    "fields.w:\"{\\\"x\\\":1.5,\\\"y\\\":[true,null]}\"", "fields.w:\"{\"*",
    "fields.w.x:1.5", "fields.w.x:>1", "fields.w.y:*", "fields.w.y.0:*",
    "fields.w:1.5", "fields.w:>1", "fields.v:1e20", "fields.v:100000000000000000000",
    "fields.v:1*", "fields.w:100000", "fields.w:1E5", "fields.n:0", "fields.n:-0",
    "fields.n:\"-0\"", "fields.v:18446744073709551615", "fields.v:>1e19",
    "fields.w:18446744073709551616", "fields.w:>0", "fields.n:<0", "fields.n:-9223372036854775809",
    "fields.v:0.000001", "fields.v:\"0.000001\"", "fields.w:1e-7", "fields.w:\"1e-7\"",
    "fields.n:123456789.12345679", "fields.n:123456789.123456789",
    "fields.v:\"[\\\"é\\\"\"*", "fields.w.k\\\"q:*",
    "fields.v.a.b.c:deep", "fields.v.a.b:*", "fields.v.a.b.c.d:*", "fields.w.a:*",
    "fields.n:\"{}\"", "fields.n:\"[]\"", "fields.v:café", "fields.w:\"\"",
    "fields.v:1", "fields.v2:2", "fields.w:-5", "fields.w:[-10 TO 0]",
    "fields.v:>1e308", "fields.w:>0", "fields.w:<1e-300", "fields.v:*", "-fields.v:*",
    "fields.v:not*", "fields.0:*", "fields.v:\"\\u0000\"",
    "fields.s:api", "fields.s:web", "fields.t.s:api", "fields.s:\"a\\\"pi\"", "fields.u:api",
    "fields.s:api*", "-fields.s:api", "fields.v:\"true\"", "fields.n:\"null\"",
    "tab", "separated", "\"tab separated values\"", "\"line one line two\"",
    "\"one line\"", "camelcaseword", "CamelCase*", "àé", "ÀÉ", "mixed àé", "needle",
    "\"x needle\"", "dot", "\"dot.\"", "\".leading\"", "a-b_c.d/e", "\"b_c\"", "c.d*",
    "separator", "😀", "emoji*", "user_id", "\"12:30:45\"", "12*", "\"a b\"", "a*",
    "nul", "x", "x*",
]

# Arrays and objects compare as ClickHouse serialises them (escapes, numbers).
SERIALISED = [
    "fields.v:" + quote(text, in_value=True)
    for text in (
        '["é","\\n","\\"","/","\\u0001","\\u2028","\\\\"]',
        '{"a":{"b":{"c":"deep"}}}',
        '[{"a":1}]',
        '{"k\\"q":null}',
    )
] + ["fields.w:" + quote('{"k\\"q":null}', in_value=True)]


def edge_rows() -> list[dict[str, Any]]:
    rows = []
    count = max(len(EDGE_FIELDS), len(EDGE_MESSAGES))
    for i in range(count):
        row: dict[str, Any] = {
            "project_id": "p1",
            **execute.instants(execute.BASE + i),
            "id": 1000 + i,
            "level": LEVELS[i % 7],
            "severity": i % 7,
            "message": EDGE_MESSAGES[i % len(EDGE_MESSAGES)],
            "fields": EDGE_FIELDS[i % len(EDGE_FIELDS)],
        }
        if i % 3 == 0:
            row["error_stack"] = EDGE_MESSAGES[(i + 1) % len(EDGE_MESSAGES)]
        rows.append(row)
    return rows


EDGE_ROWS = edge_rows()


@pytest.fixture(scope="module")
def edge_store(chdb_path: Path) -> Iterator[tuple[Any, str]]:
    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    db = f"m_{uuid.uuid4().hex[:12]}"
    # The table exactly as the store's migrations make it today.
    EntryStore(f"chdb://{chdb_path}", db).open()
    client.raw_insert(
        f"`{db}`.logs",
        column_names=schema.INSERT_COLUMNS,
        insert_block="\n".join(json.dumps(row) for row in EDGE_ROWS).encode(),
        fmt="JSONEachRow",
    )
    yield client, db
    client.command(f"DROP DATABASE IF EXISTS `{db}`")


def edge_select(table: tuple[Any, str], query: str) -> list[int]:
    client, db = table
    sql, params = compile(parse(query))
    result = client.query(f"SELECT id FROM `{db}`.logs WHERE {sql} ORDER BY id", parameters=params)
    return [row[0] for row in result.result_rows]


def test_edge_rows_stored_verbatim(edge_store: Any) -> None:
    client, db = edge_store
    stored = client.query(f"SELECT fields, message FROM `{db}`.logs ORDER BY id").result_rows
    assert stored == [(row["fields"], row["message"]) for row in EDGE_ROWS]


@pytest.mark.parametrize("query", EDGE_QUERIES + SERIALISED)
def test_edge_rows_same_as_clickhouse(edge_store: Any, query: str) -> None:
    match = matcher(parse(query))
    assert [row["id"] for row in EDGE_ROWS if match(row)] == edge_select(edge_store, query)


@pytest.mark.parametrize("query", [f"errorStack:{q}" for q in EDGE_QUERIES if ":" not in q])
def test_error_stack_same_as_clickhouse(edge_store: Any, query: str) -> None:
    match = matcher(parse(query))
    assert [row["id"] for row in EDGE_ROWS if match(row)] == edge_select(edge_store, query)


def random_queries(count: int, seed: int = 7) -> list[str]:
    """Boolean combinations of the table's queries, nested at random."""
    rnd = random.Random(seed)
    atoms = [q for q in QUERIES if q]

    def build(depth: int) -> str:
        if depth == 0 or rnd.random() < 0.3:
            return f"({rnd.choice(atoms)})"
        op = rnd.choice([" AND ", " OR ", " ", " AND NOT ", " OR -"])
        left, right = build(depth - 1), build(depth - 1)
        return f"{'NOT ' if rnd.random() < 0.2 else ''}({left}{op}{right})"

    return [build(3) for _ in range(count)]


@pytest.mark.parametrize("query", random_queries(150))
def test_combinations_same_as_clickhouse(clickhouse: Any, query: str) -> None:
    assert matched(query) == execute.select_ids(clickhouse, query)


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("fields.s:api", ['{"s":"api","t":{"s":"web"}}']),
        ("fields.s:web", ['{"t":{"s":"api"},"s":"web"}']),
        ("fields.t.s:api", ['{"t":{"s":"api"},"s":"web"}']),
        ('fields.s:"a\\"pi"', ['{"s":"a\\"pi","u":"\\"s\\":\\"api\\""}']),
    ],
)
def test_top_level_pair_guard_finds_exactly_the_member(edge_store: Any, query: str,
                                                       fields: list[str]) -> None:
    # `"s":"api"` also occurs nested and inside an escaped string: only the top-level member counts.
    ids = edge_select(edge_store, query)
    assert [row["fields"] for row in EDGE_ROWS if row["id"] in ids] == fields
