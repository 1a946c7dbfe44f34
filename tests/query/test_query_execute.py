"""Compiled queries run against embedded ClickHouse and return the right rows."""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from timberyard.query import compile, parse
from timberyard.query.text import tokens
from timberyard.storage import schema
from timberyard.storage.entries import EntryStore

BASE = 1_705_312_200  # 2024-01-15T09:50:00Z
PUNCTUATION = string.punctuation + "\x01\x1f\x7f"

# id -> (level, message, extra columns). Timestamps are BASE + id seconds.
ROWS: dict[int, tuple[str, str, dict[str, Any]]] = {
    1: (
        "error",
        "DB connection refused ECONNREFUSED:5432",
        {
            "service": "api",
            "tags": ["db", "billing"],
            "session_id": "sess-1",
            "step_index": 0,
            "fields": {"service": "api", "route": "/api/orders", "durationMs": 5230, "status": 500},
        },
    ),
    2: (
        "info",
        "Connected to database in 12ms",
        {
            "service": "api",
            "fields": {"durationMs": 12, "status": 200},
        },
    ),
    3: (
        "warn",
        "Slow query on /api/orders took 1500ms",
        {
            "service": "api",
            "fields": {"durationMs": 1500, "route": "/api/orders", "status": "200"},
        },
    ),
    4: (
        "fatal",
        "Out of memory: kill process 4242",
        {
            "service": "worker",
            "host": "web-1",
            "error_name": "OOMError",
        },
    ),
    5: ("debug", "cache hit ratio 0.93", {"service": "cache", "environment": "staging"}),
    6: (
        "info",
        "GET /api/orders/123 200",
        {
            "service": "web",
            "fields": {"route": "/api/orders/123", "status": 200},
        },
    ),
    7: ("info", "GET /api/ordersfoo 404", {"service": "web", "fields": {"status": 404}}),
    8: (
        "error",
        "Stripe webhook signature invalid",
        {
            "tags": ["billing", "stripe"],
            "user_id": "42",
            "fields": {"service": "api", "route": "/webhooks/stripe"},
        },
    ),
    9: ("success", "Payment CONNECTION established", {}),
    10: ("trace", "connection\tREFUSED  by peer", {}),
    11: ("info", "connection: refused", {}),
    12: ("info", "reconnecting in 5s", {}),
    13: ("info", "Über café naïve", {}),
    14: ("warn", "user_id=7 login", {}),
    15: ("info", "it's a 'quoted' \"string\" with back\\slash", {}),
    16: ("info", "'); DROP TABLE logs; --", {"service": "x'); DROP TABLE logs; --"}),
    17: ("info", "{p0:String} placeholder in message", {"fields": {"note": "{p0:String}"}}),
    18: ("info", "nul\x00byte here", {"fields": {"nul": "a\x00b"}}),
    19: (
        "error",
        "TypeError: cannot read property 'x' of undefined",
        {
            "error_name": "TypeError",
            "error_stack": "TypeError: x\n    at main (app.js:10)",
            "flow_id": "checkout",
            "step_index": 3,
            "instance_id": "i-1",
            "version": "1.2.3",
        },
    ),
    20: ("info", "heartbeat", {"step_index": 5, "fields": {"user": {"id": 7, "name": "ann"}}}),
    21: ("info", "heartbeat", {"fields": {"user": {"id": "7"}}}),
    22: ("info", "flags", {"fields": {"ok": True, "count": "1500", "neg": -5, "big": 1e20}}),
    23: ("warn", "AND OR NOT keywords", {"service": "my service", "dataset": "audit"}),
    24: ("info", "日本語のログ", {"service": "日本"}),
    25: (
        "info",
        "path C:\\Windows\\System32",
        {"request_id": "r-1", "trace_id": "t-1", "span_id": "s-1"},
    ),
    26: ("error", "timeout after 30s", {"environment": "production"}),
    27: ("info", "ECONNREFUSED 5432 separate", {}),
    28: ("info", "XECONNREFUSED:5432 and econnrefused later", {}),
    29: ("info", "percent 100% done_ok [x] (y) {z}", {"fields": {"pct": "100%"}}),
    30: ("info", "café CAFÉ Café", {}),
    31: ("info", " ".join(f"q{ch}q" for ch in PUNCTUATION), {}),
}

# (query, ids it returns).
CASES = [
    ("", list(ROWS)),
    # words: whole tokens, case-insensitive for ASCII
    ("connection", [1, 9, 10, 11]),
    ("CONNECTION", [1, 9, 10, 11]),
    ("Connected", [2]),
    ("connect", []),
    ("econnrefused", [1, 27, 28]),
    ("5432", [1, 27, 28]),
    ("heartbeat", [20, 21]),
    ("café", [13, 30]),
    ("CAFÉ", [30]),
    ("Über", [13]),
    ("über", []),
    ("日本語のログ", [24]),
    ("ログ", []),
    # words with separators match exactly, at token boundaries
    ('"ECONNREFUSED:5432"', [1]),
    ("ECONNREFUSED\\:5432", [1]),
    ("/api/orders", [3, 6]),
    ('"/api/orders/"', [6]),
    ("user_id=7", [14]),
    ("0.93", [5]),
    ('"100%"', [29]),
    ('"[x]"', [29]),
    ('"(y)"', [29]),
    ('"{z}"', [29]),
    ('"C:\\\\Windows\\\\System32"', [25]),
    # phrases: tokens in order; a space matches any run of whitespace
    ('"connection refused"', [1, 10]),
    ('"connection  refused"', [1, 10]),
    ('"refused connection"', []),
    ('"connection: refused"', [11]),
    ('"db connection"', [1]),
    ('"Payment connection established"', [9]),
    # prefixes
    ("conn*", [1, 2, 9, 10, 11]),
    ("CONNECT*", [1, 2, 9, 10, 11]),
    ("reconn*", [12]),
    ("/api/ord*", [3, 6, 7]),
    ('"connection ref"*', [1, 10]),
    ("caf*", [13, 30]),
    ("message:time*", [26]),
    ("message:*", list(ROWS)),
    # booleans
    ("connection refused", [1, 10, 11]),
    ("connection AND refused", [1, 10, 11]),
    ("connection OR heartbeat", [1, 9, 10, 11, 20, 21]),
    ("connection -refused", [9]),
    ("connection NOT peer", [1, 9, 11]),
    ("NOT connection", [i for i in ROWS if i not in (1, 9, 10, 11)]),
    ("(connection OR heartbeat) level:trace", [10]),
    ("connection OR heartbeat level:trace", [1, 9, 10, 11]),
    ("+heartbeat -stepIndex:5", [21]),
    ("CONNECTION OR service:web", [1, 6, 7, 9, 10, 11]),
    ("NOT CONNECTION AND NOT level:info", [3, 4, 5, 8, 14, 19, 23, 26]),
    ("(conn* OR tag:stripe) -level:error", [2, 9, 10, 11]),
    # levels
    ("level:error", [1, 8, 19, 26]),
    ("level:err", [1, 8, 19, 26]),
    ("level:WARNING", [3, 14, 23]),
    ("level:critical", [4]),
    ("level:>=warn", [1, 3, 4, 8, 14, 19, 23, 26]),
    ("level:>error", [4]),
    ("level:<info", [5, 10]),
    ("level:<=debug", [5, 10]),
    ("level:[info TO success]", [i for i, row in ROWS.items() if row[0] in ("info", "success")]),
    ("level:{info TO error}", [3, 9, 14, 23]),
    ("severity:6", [4]),
    ("level:*", list(ROWS)),
    # keyword columns
    ("service:api", [1, 2, 3]),
    ("source:api", [1, 2, 3]),
    ("service:API", []),
    ("service:ap*", [1, 2, 3]),
    ('service:"my service"', [23]),
    ("service:my*", [23]),
    ("service:日本", [24]),
    ("service:*", [1, 2, 3, 4, 5, 6, 7, 16, 23, 24]),
    (
        "-service:*",
        [8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 25, 26, 27, 28, 29, 30, 31],
    ),
    ("service:[a TO c]", [1, 2, 3]),
    ("service:[a TO cz]", [1, 2, 3, 5]),
    ("service:>w", [4, 6, 7, 16, 24]),
    ("host:web-1", [4]),
    ("env:staging", [5]),
    ("environment:production", [26]),
    ("dataset:audit", [23]),
    ("sessionId:sess-1", [1]),
    ("userId:42", [8]),
    ("requestId:r-1 traceId:t-1 spanId:s-1", [25]),
    ("flowId:checkout", [19]),
    ("errorName:TypeError", [19]),
    ("error_name:*", [4, 19]),
    ("instanceId:i-1 version:1.2.3", [19]),
    ("projectId:p1", list(ROWS)),
    ('errorStack:"at main"', [19]),
    ("errorStack:app*", [19]),
    ("errorStack:main", [19]),
    ("errorStack:mai", []),
    # step index (nullable): a missing one never compares true, also under NOT
    ("stepIndex:3", [19]),
    ("stepIndex:0", [1]),
    ("stepIndex:>=3", [19, 20]),
    ("stepIndex:[0 TO 3}", [1]),
    ("stepIndex:*", [1, 19, 20]),
    ("-stepIndex:3", [i for i in ROWS if i != 19]),
    ("NOT stepIndex:>=1", [i for i in ROWS if i not in (19, 20)]),
    # time and id
    ("timestamp:>=2024-01-15T09:50:29Z", [29, 30, 31]),
    ("timestamp:2024-01-15T09:50:05Z", [5]),
    ("timestamp:[2024-01-15T09:50:02Z TO 2024-01-15T09:50:04Z}", [2, 3]),
    ("timestamp:<1705312202000", [1]),
    ("timestamp:>2024-01-15T09:50:29.5Z", [30, 31]),
    ("receivedAt:<2024-01-15T09:50:03Z", [1, 2]),
    ("id:0000000000000007", [7]),
    ("id:>000000000000001c", [29, 30, 31]),
    ("id:ffffffffffffffff", []),
    # tags
    ("tag:billing", [1, 8]),
    ("tags:stripe", [8]),
    ("tag:bill*", [1, 8]),
    ("tag:*", [1, 8]),
    ("-tag:*", [i for i in ROWS if i not in (1, 8)]),
    # free-form fields
    ("fields.service:api", [1, 8]),
    ("data.service:api", [1, 8]),
    ("details.service:api", [1, 8]),
    ("fields.status:200", [2, 3, 6]),
    ("fields.status:200.0", [2, 6]),
    ("fields.status:>=404", [1, 7]),
    ("fields.status:[200 TO 404}", [2, 6]),
    ("fields.durationMs:>1000", [1, 3]),
    ("fields.durationMs:<=12", [2]),
    ("fields.count:>1000", []),
    ("fields.count:1500", [22]),
    ("fields.neg:<0", [22]),
    ("fields.neg:-5", [22]),
    ("fields.big:>1e19", [22]),
    ("fields.ok:true", [22]),
    ("fields.ok:>0", []),
    ("fields.user.id:7", [20, 21]),
    ("fields.user.id:>6", [20]),
    ("fields.user.name:ann", [20]),
    ("fields.user:*", [20, 21]),
    ("fields.user.id:*", [20, 21]),
    ("fields.user.nope:*", []),
    ("-fields.durationMs:*", [i for i in ROWS if i not in (1, 2, 3)]),
    ("fields.route:/api/orders", [1, 3]),
    ("fields.route:/api/*", [1, 3, 6]),
    ('fields.route:"/webhooks/stripe"', [8]),
    ("fields.route:/API/orders", []),
    ("fields.pct:100%", [29]),
    ("NOT fields.durationMs:>1000", [i for i in ROWS if i not in (1, 3)]),
    # hostile values match literally and never break the SQL
    ('"\'); DROP TABLE logs; --"', [16]),
    ('service:"x\'); DROP TABLE logs; --"', [16]),
    ('"it\'s"', [15]),
    ("\"'quoted'\"", [15]),
    ('"\\"string\\""', [15]),
    ('"back\\\\slash"', [15]),
    ('"{p0:String}"', [17]),
    ('fields.note:"{p0:String}"', [17]),
    ('service:"{p0:String}"', []),
    ('"nul\x00byte"', [18]),
    ('fields.nul:"a\x00b"', [18]),
    ('"\' OR 1=1 --"', []),
    ("service:\"' OR '1'='1\"", []),
    ('"\\\\"', [15, 25, 31]),
    ("'", [15, 16, 19, 31]),
    ('"%"', [29, 31]),
    ('"_"', [14, 29, 31]),
    ('"$$"', []),
    ('"\\\\\' OR 1=1 --"', []),
    ("fields.x\\u0027:1", []),
]


@pytest.fixture(scope="module")
def store(chdb_path: Path) -> Iterator[tuple[Any, str]]:
    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    db = f"q_{uuid.uuid4().hex[:12]}"
    # The table exactly as the store's migrations make it today.
    EntryStore(f"chdb://{chdb_path}", db).open()
    lines = []
    for ident, (level, message, extra) in ROWS.items():
        row = {
            "project_id": "p1",
            **instants(BASE + ident),
            "id": ident,
            "level": level,
            "severity": ["trace", "debug", "info", "success", "warn", "error", "fatal"].index(
                level
            ),
            "message": message,
            **extra,
        }
        if "fields" in row:
            row["fields"] = json.dumps(row["fields"], separators=(",", ":"), ensure_ascii=False)
        lines.append(json.dumps(row, ensure_ascii=False))
    client.raw_insert(
        f"`{db}`.logs",
        column_names=getattr(schema, "INSERT_COLUMNS", None),
        insert_block="\n".join(lines).encode(),
        fmt="JSONEachRow",
    )
    yield client, db
    client.command(f"DROP DATABASE IF EXISTS `{db}`")


def instants(seconds: int) -> dict[str, Any]:
    """The row's timestamp and received_at, in whatever columns the schema takes them."""
    if "ts_ns" in getattr(schema, "INSERT_COLUMNS", ()):
        return {"ts_ns": seconds * 10**9, "received_ms": seconds * 1000}
    return {"timestamp": f"{seconds}.000000000", "received_at": f"{seconds}.000"}


def select_ids(store: tuple[Any, str], query: str) -> list[int]:
    client, db = store
    sql, params = compile(parse(query))
    result = client.query(f"SELECT id FROM `{db}`.logs WHERE {sql} ORDER BY id", parameters=params)
    return [row[0] for row in result.result_rows]


@pytest.mark.parametrize(("query", "ids"), CASES)
def test_rows(store: tuple[Any, str], query: str, ids: list[int]) -> None:
    assert select_ids(store, query) == sorted(ids)


def test_table_survives(store: tuple[Any, str]) -> None:
    client, db = store
    assert client.query(f"SELECT count() FROM `{db}`.logs").result_rows == [(len(ROWS),)]


def test_table_is_the_migrated_schema(store: tuple[Any, str]) -> None:
    """The differential tests run on today's schema, not on migration 1's table."""
    client, db = store
    version = client.query(f"SELECT max(version) FROM `{db}`.schema_version").result_rows
    assert version == [(schema.SCHEMA_VERSION,)]
    key = client.query(
        f"SELECT partition_key FROM system.tables WHERE database = '{db}' AND name = 'logs'"
    ).result_rows[0][0]
    assert "severity" in key


def test_tokens_match_clickhouse(store: tuple[Any, str]) -> None:
    """The Python tokenizer agrees with the index's splitByNonAlpha over lower()."""
    client, db = store
    rows = client.query(
        f"SELECT message, tokens(lower(message), 'splitByNonAlpha') FROM `{db}`.logs"
    ).result_rows
    for message, found in rows:
        assert tokens(message) == found, message


# (query, index name that must appear in EXPLAIN indexes = 1).
INDEXED = [
    ("connection", "idx_message"),
    ('"connection refused"', "idx_message"),
    ("/api/orders", "idx_message"),
    ("NOT connection OR level:error", "idx_message"),
    ("sessionId:sess-1", "idx_session"),
]


@pytest.mark.parametrize(("query", "index"), INDEXED)
def test_uses_index(store: tuple[Any, str], query: str, index: str) -> None:
    client, db = store
    sql, params = compile(parse(query))
    plan = client.query(
        f"EXPLAIN indexes = 1 SELECT id FROM `{db}`.logs WHERE {sql}", parameters=params
    )
    assert index in "\n".join(row[0] for row in plan.result_rows)


@pytest.mark.parametrize("ch", list(PUNCTUATION))
def test_punctuation_is_literal(store: tuple[Any, str], ch: str) -> None:
    escaped = "\\" + ch if ch in '"\\' else ch
    assert select_ids(store, f'"q{escaped}q"') == [31]
    assert select_ids(store, f'"q{escaped}"*') == [31]
