"""The query parser: inputs and their canonical forms; failures and their positions."""

from __future__ import annotations

import pytest

from timberyard.errors import TimberyardError
from timberyard.query import (
    MAX_CLAUSES,
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_VALUE_LENGTH,
    And,
    Compare,
    Exists,
    Not,
    Or,
    QueryError,
    Range,
    Term,
    parse,
    referenced_fields,
)

# (input, canonical). Each input parses, prints its canonical form, and the
# canonical form parses to the same AST and prints itself.
CANONICAL = [
    # empty
    ("", ""),
    ("   \t\n", ""),
    # words and phrases on the message
    ("error", "error"),
    ("  error  ", "error"),
    ("ECONNREFUSED", "ECONNREFUSED"),
    ('"connection refused"', '"connection refused"'),
    ('"connection   refused"', '"connection refused"'),
    ('"  padded\tphrase\n"', '"padded phrase"'),
    ('"single"', "single"),
    ('"ECONNREFUSED:5432"', '"ECONNREFUSED:5432"'),
    ("ECONNREFUSED\\:5432", '"ECONNREFUSED:5432"'),
    ("/api/orders", "/api/orders"),
    ("12:30:00", '"12:30:00"'),
    ("example.com:443", '"example.com:443"'),
    ("fields..x:1", '"fields..x:1"'),
    ("http://example.com/x", '"http://example.com/x"'),
    ("conn*", "conn*"),
    ('"connection ref"*', '"connection ref"*'),
    ("/api/ord*", "/api/ord*"),
    ("literal\\*", '"literal*"'),
    ('"star*"', '"star*"'),
    ('"AND"', '"AND"'),
    ("and or not", "and AND or AND not"),
    ('"say \\"hi\\""', '"say \\"hi\\""'),
    ('"back\\\\slash"', '"back\\\\slash"'),
    ("café", "café"),
    ("日本語", "日本語"),
    ("a-b", "a-b"),
    ("why?", "why?"),
    ("message:timeout", "timeout"),
    ("message:ECONNREFUSED:5432", '"ECONNREFUSED:5432"'),
    ("message:-v", '"-v"'),
    ("msg:timeout", "timeout"),
    ('message:"gateway timeout"', '"gateway timeout"'),
    ("message:time*", "time*"),
    ("message:*", "message:*"),
    # boolean structure
    ("a b", "a AND b"),
    ("a AND b", "a AND b"),
    ("a OR b", "a OR b"),
    ("a OR b c", "a OR b AND c"),
    ("a b OR c", "a AND b OR c"),
    ("(a OR b) c", "(a OR b) AND c"),
    ("a AND (b OR c)", "a AND (b OR c)"),
    ("((a))", "a"),
    ("(a AND b) AND c", "a AND b AND c"),
    ("a OR (b OR c)", "a OR b OR c"),
    ("NOT a", "NOT a"),
    ("-a", "NOT a"),
    ("+a", "a"),
    ("+a -b", "a AND NOT b"),
    ("NOT NOT a", "NOT NOT a"),
    ("NOT (a OR b)", "NOT (a OR b)"),
    ("NOT a OR b", "NOT a OR b"),
    ("-(a b)", "NOT (a AND b)"),
    ("a -level:debug", "a AND NOT level:debug"),
    ("(a)(b)", "a AND b"),
    # levels
    ("level:error", "level:error"),
    ("level:ERROR", "level:error"),
    ("level:warning", "level:warn"),
    ("level:critical", "level:fatal"),
    ("level:err", "level:error"),
    ("Level:info", "level:info"),
    ("level:>=warn", "level:>=warn"),
    ("level:>info", "level:>info"),
    ("level:<error", "level:<error"),
    ("level:<=debug", "level:<=debug"),
    ("level:[info TO error]", "level:[info TO error]"),
    ("level:{debug TO fatal}", "level:{debug TO fatal}"),
    ("level:*", "level:*"),
    ("level:error fields.service:api", "level:error AND fields.service:api"),
    ("level:error AND fields.service:api", "level:error AND fields.service:api"),
    # keyword columns and their aliases
    ("service:api", "service:api"),
    ("source:api", "service:api"),
    ("app:api", "service:api"),
    ("env:production", "environment:production"),
    ("hostname:web-1", "host:web-1"),
    ("sessionId:abc", "session_id:abc"),
    ("session_id:abc", "session_id:abc"),
    ("userId:42", "user_id:42"),
    ("requestId:r-1", "request_id:r-1"),
    ("flowId:checkout", "flow_id:checkout"),
    ("traceId:4bf92f3577b34da6", "trace_id:4bf92f3577b34da6"),
    ("spanId:00f067aa0ba902b7", "span_id:00f067aa0ba902b7"),
    ("errorName:TypeError", "error_name:TypeError"),
    ("instanceId:i-123", "instance_id:i-123"),
    ("version:1.2.3", "version:1.2.3"),
    ("dataset:default", "dataset:default"),
    ("projectId:p1", "project_id:p1"),
    ('service:"my service"', 'service:"my service"'),
    ('service:"two  spaces"', 'service:"two  spaces"'),
    ('service:""', 'service:""'),
    ("service:api*", "service:api*"),
    ("service:*", "service:*"),
    ("service: api", "service:api"),
    ("service:>m", "service:>m"),
    ("service:[a TO m]", "service:[a TO m]"),
    ('service:"AND"', 'service:"AND"'),
    ("service:a:b", "service:a:b"),
    ("service:-x", "service:-x"),
    ('errorStack:"at main"', 'error_stack:"at main"'),
    ("error_stack:Trace*", "error_stack:Trace*"),
    # numbers, times and ids
    ("stepIndex:3", "step_index:3"),
    ("step_index:007", "step_index:7"),
    ("stepIndex:>=2", "step_index:>=2"),
    ("stepIndex:[1 TO 5]", "step_index:[1 TO 5]"),
    ("stepIndex:[1 TO 5}", "step_index:[1 TO 5}"),
    ("stepIndex:[2 TO *]", "step_index:[2 TO *]"),
    ("stepIndex:[* TO *]", "step_index:*"),
    ("stepIndex:*", "step_index:*"),
    ("severity:>=4", "severity:>=4"),
    ("timestamp:>2024-01-15T10:30:00Z", "timestamp:>2024-01-15T10:30:00Z"),
    ("timestamp:>2024-01-15T10:30:00.000Z", "timestamp:>2024-01-15T10:30:00Z"),
    ("timestamp:>=2024-01-15T10:30:00.250+00:00", "timestamp:>=2024-01-15T10:30:00.250Z"),
    ("timestamp:<2024-01-15T12:30:00+02:00", "timestamp:<2024-01-15T10:30:00Z"),
    ("timestamp:2024-01-15T10:30:00.123456789Z", "timestamp:2024-01-15T10:30:00.123456789Z"),
    ("timestamp:>1705312200000", "timestamp:>2024-01-15T09:50:00Z"),
    ('timestamp:>"2024-01-15T10:30:00Z"', "timestamp:>2024-01-15T10:30:00Z"),
    (
        "timestamp:[2024-01-15 TO 2024-01-16}",
        "timestamp:[2024-01-15T00:00:00Z TO 2024-01-16T00:00:00Z}",
    ),
    ("ts:>2024-01-15", "timestamp:>2024-01-15T00:00:00Z"),
    ("receivedAt:<2024-01-15", "received_at:<2024-01-15T00:00:00Z"),
    ("id:00000000000000FF", "id:00000000000000ff"),
    ("id:>0123456789abcdef", "id:>0123456789abcdef"),
    # tags
    ("tag:billing", "tag:billing"),
    ("tags:billing", "tag:billing"),
    ("tag:bill*", "tag:bill*"),
    ("tag:*", "tag:*"),
    # free-form fields
    ("fields.service:api", "fields.service:api"),
    ("data.service:api", "fields.service:api"),
    ("details.service:api", "fields.service:api"),
    ("Fields.user.id:7", "fields.user.id:7"),
    ("fields.status:200", "fields.status:200"),
    ('fields.route:"/api/orders"', "fields.route:/api/orders"),
    ("fields.route:/api/*", "fields.route:/api/*"),
    ("fields.durationMs:>1000", "fields.durationMs:>1000"),
    ("fields.durationMs:>=1.5e3", "fields.durationMs:>=1.5e3"),
    ("fields.delta:<-5", "fields.delta:<-5"),
    ("fields.durationMs:[100 TO 200]", "fields.durationMs:[100 TO 200]"),
    ("fields.durationMs:{100 TO *]", "fields.durationMs:{100 TO *]"),
    ("fields.x:*", "fields.x:*"),
    ("fields.user-agent:curl*", "fields.user-agent:curl*"),
    ("fields.ok:true", "fields.ok:true"),
    ('fields.msg:"a \\"quoted\\" word"', 'fields.msg:"a \\"quoted\\" word"'),
    # a realistic mix
    (
        'level:>=warn (service:api OR service:web) -"health check" fields.durationMs:>1000',
        'level:>=warn AND (service:api OR service:web) AND NOT "health check"'
        " AND fields.durationMs:>1000",
    ),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_canonical(text: str, canonical: str) -> None:
    node = parse(text)
    assert node.canonical() == canonical
    again = parse(canonical)
    assert again == node
    assert again.canonical() == canonical


# (input, expected AST) for the shapes that the canonical table cannot show.
TREES = [
    ("a b", And((Term("message", "a"), Term("message", "b")))),
    ("a OR b c", Or((Term("message", "a"), And((Term("message", "b"), Term("message", "c")))))),
    ("-a", Not(Term("message", "a"))),
    ("conn*", Term("message", "conn", prefix=True)),
    ('"a  b"', Term("message", "a b")),
    ("level:>=warn", Compare("level", ">=", "warn")),
    ("stepIndex:{1 TO 5]", Range("step_index", 1, 5, include_low=False, include_high=True)),
    ("stepIndex:[* TO 5]", Range("step_index", None, 5)),
    ("id:00000000000000ff", Term("id", 255)),
    ("timestamp:1705312200000", Term("timestamp", 1_705_312_200_000_000_000)),
    ("data.user.id:*", Exists("fields.user.id")),
]


@pytest.mark.parametrize(("text", "tree"), TREES)
def test_tree(text: str, tree: object) -> None:
    assert parse(text) == tree


# (input, position, substring of the message). Positions are 0-based.
FAILURES = [
    ("level:=err", 6, 'unexpected "=" at 6, expected a value'),
    ("level:", 6, "unexpected end of query at 6, expected a value"),
    ("level:banana", 6, 'invalid level "banana" at 6, expected one of trace, debug'),
    ("level:err*", 9, 'unexpected "*" at 9'),
    ("level:>=banana", 8, 'invalid level "banana"'),
    ("levle:error", 0, 'unknown field "levle" at 0'),
    ("ECONNREFUSED:5432", 0, 'unknown field "ECONNREFUSED"'),
    ("a AND bogus.x:1 OR nope:2", 19, 'unknown field "nope" at 19'),
    ("fields:x", 0, 'unknown field "fields"'),
    ("stepIndex:abc", 10, 'invalid step_index "abc" at 10, expected an integer from 0 to 65535'),
    ("stepIndex:-1", 10, "expected an integer"),
    ("stepIndex:70000", 10, "expected an integer from 0 to 65535"),
    ("stepIndex:1.5", 10, "expected an integer"),
    ("severity:>300", 10, "expected an integer from 0 to 255"),
    ("fields.x:>abc", 10, 'invalid fields.x "abc" at 10, expected a number'),
    ("fields.x:[1 TO abc]", 15, "expected a number"),
    ("fields.x:>nan", 10, "expected a number"),
    ("fields.x:>inf", 10, "expected a number"),
    ("fields.x:>1e999", 10, "expected a number"),
    ("timestamp:>yesterday", 11, 'invalid timestamp "yesterday"'),
    ("timestamp:>2024-13-45", 11, "expected an ISO 8601 time"),
    ("timestamp:abc*", 13, 'unexpected "*"'),
    ("id:xyz", 3, 'invalid id "xyz" at 3, expected an entry id of 16 hexadecimal digits'),
    ("id:ff", 3, "16 hexadecimal digits"),
    ("id:00000000000000fff", 3, "16 hexadecimal digits"),
    ("id:00000000000000g0", 3, "16 hexadecimal digits"),
    ("message:>a", 8, "cannot compare message at 8"),
    ("tag:[a TO b]", 4, "cannot compare tag"),
    ("(a", 2, 'unexpected end of query at 2, expected an operator, a term or ")"'),
    ("((a) OR b", 9, 'expected an operator, a term or ")"'),
    ("a)", 1, 'unexpected ")" at 1'),
    ("()", 1, 'unexpected ")" at 1, expected a term'),
    ("a AND ()", 7, 'unexpected ")" at 7, expected a term'),
    ('"abc', 0, "unterminated quote at 0"),
    ('a "b c', 2, "unterminated quote at 2"),
    ('service:"x', 8, "unterminated quote at 8"),
    ('"ab\\', 0, "unterminated quote"),
    ("a AND", 5, "unexpected end of query at 5, expected a term"),
    ("a OR", 4, "unexpected end of query at 4, expected a term"),
    ("AND a", 0, 'unexpected "AND" at 0, expected a term'),
    ("OR", 0, 'unexpected "OR" at 0, expected a term'),
    ("a OR OR b", 5, 'unexpected "OR" at 5'),
    ("a AND OR b", 6, 'unexpected "OR" at 6'),
    ("NOT", 3, "unexpected end of query at 3, expected a term"),
    ("a NOT", 5, "expected a term"),
    ("-", 1, 'expected a term right after "-"'),
    ("a - b", 3, 'unexpected whitespace at 3, expected a term right after "-"'),
    ("a +", 3, 'expected a term right after "+"'),
    ("-)", 1, 'expected a term right after "-"'),
    ('""', 0, 'invalid message "" at 0, expected a non-empty word or phrase'),
    ('"   "', 0, "expected a non-empty word or phrase"),
    ("*", 0, 'unexpected "*" at 0, expected a word before the wildcard'),
    ("foo*bar", 3, 'unexpected "*" at 3, expected a wildcard "*" only at the end of a word'),
    ("*foo", 0, 'unexpected "*" at 0'),
    ('""*', 0, "expected a non-empty word or phrase"),
    ('service:""*', 8, "empty prefix"),
    ("foo\\", 4, 'expected a character after "\\"'),
    ("service:AND", 8, 'unexpected "AND" at 8, expected a value'),
    ("service:(a)", 8, 'unexpected "(" at 8, expected a value'),
    ("service:>", 9, "unexpected end of query at 9, expected a value"),
    ("service:>>a", 9, 'unexpected ">" at 9'),
    ("service:>*", 9, 'unexpected "*" at 9'),
    ("service:>[a TO b]", 9, 'unexpected "[" at 9'),
    ("service:[a b]", 11, 'unexpected "b" at 11, expected "TO"'),
    ("service:[a TO]", 13, 'unexpected "]" at 13, expected a range bound'),
    ("service:[a TO b", 15, 'unexpected end of query at 15, expected "]" or "}"'),
    ("service:[a TO b c]", 16, 'expected "]" or "}"'),
    ("service:[TO b]", 9, 'unexpected "TO" at 9, expected a range bound'),
    ("service:[a* TO b]", 10, 'unexpected "*" at 10, expected a value without a wildcard'),
    ("service:[(a) TO b]", 9, 'unexpected "(" at 9'),
    ("fields.x:>5*", 11, 'unexpected "*" at 11'),
    ("a\ud800b", 1, "invalid character at 1"),
]


@pytest.mark.parametrize(("text", "position", "expected"), FAILURES)
def test_failure(text: str, position: int, expected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    error = caught.value
    assert error.position == position, error.message
    assert expected in error.message
    assert error.message.startswith(f"cannot parse query {text!r}"[:20].replace("'", '"'))
    assert error.query == text


def test_message_shape() -> None:
    with pytest.raises(QueryError) as caught:
        parse("level:=err")
    assert (
        str(caught.value)
        == 'cannot parse query "level:=err": unexpected "=" at 6, expected a value'
    )


def test_to_api() -> None:
    with pytest.raises(QueryError) as caught:
        parse("level:=err")
    api = caught.value.to_api()
    assert isinstance(api, TimberyardError)
    assert api.status == 400
    assert api.body() == {
        "error": 'cannot parse query "level:=err": unexpected "=" at 6, expected a value',
        "code": "QUERY_ERROR",
        "position": 6,
        "query": "level:=err",
    }


# Limits: (query, position, substring).
LIMITS = [
    (
        "a" * (MAX_QUERY_LENGTH + 1),
        MAX_QUERY_LENGTH,
        f"expected at most {MAX_QUERY_LENGTH} characters",
    ),
    (" OR ".join(["x"] * 800), 0, "too many terms"),
    ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), MAX_DEPTH, "nested too deeply"),
    ("NOT " * (MAX_DEPTH + 1) + "a", MAX_DEPTH * 4, "nested too deeply"),
    ("-" * (MAX_DEPTH + 1) + "a", MAX_DEPTH, "nested too deeply"),
    (
        '"' + "a" * (MAX_VALUE_LENGTH + 1) + '"',
        0,
        f"expected at most {MAX_VALUE_LENGTH} characters",
    ),
    (
        "fields." + ".".join("k" * 17) + ":1",
        0,
        "field path has 17 keys at 0, expected at most 16 keys",
    ),
]


@pytest.mark.parametrize(("text", "position", "expected"), LIMITS)
def test_limits(text: str, position: int, expected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    if expected != "too many terms":
        assert caught.value.position == position
    assert expected in caught.value.message
    assert len(caught.value.message) < 400


def test_clause_limit_position() -> None:
    terms = ["w"] * (MAX_CLAUSES + 1)
    with pytest.raises(QueryError) as caught:
        parse(" OR ".join(terms))
    assert caught.value.position == MAX_CLAUSES * len("w OR ")
    assert f"too many terms (more than {MAX_CLAUSES})" in caught.value.message


def test_within_limits() -> None:
    parse(" OR ".join(["w"] * MAX_CLAUSES))
    parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)
    parse('"' + "a" * MAX_VALUE_LENGTH + '"')
    longest = '"' + "a" * MAX_VALUE_LENGTH + '"'
    parse(longest.ljust(MAX_QUERY_LENGTH))


REFERENCED = [
    ("", set()),
    ("error", {"message"}),
    (
        "level:>=warn sessionId:x -data.user.id:* (tag:a OR stepIndex:[1 TO 2])",
        {"level", "session_id", "fields.user.id", "tag", "step_index"},
    ),
]


@pytest.mark.parametrize(("text", "names"), REFERENCED)
def test_referenced_fields(text: str, names: set[str]) -> None:
    assert referenced_fields(parse(text)) == names
