"""The Loki and Elasticsearch bulk decoders, as tables of bodies and the raw entries they give."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timberyard.errors import ParseError
from timberyard.formats import esbulk, loki

NS = 1_700_000_000_123_456_789


def loki_json(labels: dict[str, str], *values: list[Any]) -> bytes:
    return json.dumps({"streams": [{"stream": labels, "values": list(values)}]}).encode()


LOKI_CASES: list[tuple[str, bytes, list[dict[str, Any]]]] = [
    (
        "labels to columns",
        loki_json({"service_name": "api", "env": "prod", "host": "web1", "level": "warn"},
                  [str(NS), "hello"]),
        [{"service": "api", "environment": "prod", "host": "web1", "level": "warn",
          "message": "hello", "timestamp": NS}],
    ),
    (
        "first service label wins, the others are fields",
        loki_json({"job": "varlogs", "app": "shop", "region": "eu"}, [str(NS), "x"]),
        [{"service": "shop", "message": "x", "timestamp": NS,
          "fields": {"job": "varlogs", "region": "eu"}}],
    ),
    (
        "structured metadata into fields, trace_id to the trace column",
        loki_json({"app": "a"}, [str(NS), "x", {"trace_id": "t1", "user": "u"}]),
        [{"service": "a", "message": "x", "timestamp": NS, "traceId": "t1",
          "fields": {"user": "u"}}],
    ),
    (
        "unknown level label kept in fields",
        loki_json({"level": "loud", "hostname": "h"}, [str(NS), "x"]),
        [{"host": "h", "message": "x", "timestamp": NS, "fields": {"level": "loud"}}],
    ),
    (
        "level of a JSON line when no label names one; the text stays the message",
        loki_json({}, [str(NS), '{"level":"error","msg":"boom"}']),
        [{"message": '{"level":"error","msg":"boom"}', "timestamp": NS, "level": "error"}],
    ),
    (
        "level of a logfmt line",
        loki_json({}, [str(NS), "ts=1 level=debug msg=hi"]),
        [{"message": "ts=1 level=debug msg=hi", "timestamp": NS, "level": "debug"}],
    ),
    (
        "legacy labels string and entries",
        json.dumps({"streams": [{"labels": '{app="old", tag="a\\"b"}',
                                 "entries": [{"ts": "2024-01-01T00:00:00Z", "line": "l"}]}]}).encode(),
        [{"service": "old", "message": "l", "timestamp": "2024-01-01T00:00:00Z",
          "fields": {"tag": 'a"b'}}],
    ),
]


@pytest.mark.parametrize("body, expected", [c[1:] for c in LOKI_CASES], ids=[c[0] for c in LOKI_CASES])
def test_loki_json(body: bytes, expected: list[dict[str, Any]]) -> None:
    assert loki.parse(body).entries == expected
    assert loki.parse_json(body).entries == expected


def test_loki_protobuf_round_trip() -> None:
    body = loki.encode_protobuf([
        ('{app="api", level="error", instance="i-1", team="core"}',
         [(NS, "first", {}), (NS + 1, "second", {"span_id": "s1", "k": "v"})]),
        ("{}", [(NS, "bare", {})]),
    ])
    assert loki.parse_protobuf(body).entries == [
        {"service": "api", "level": "error", "host": "i-1", "message": "first", "timestamp": NS,
         "fields": {"team": "core"}},
        {"service": "api", "level": "error", "host": "i-1", "message": "second", "timestamp": NS + 1,
         "spanId": "s1", "fields": {"team": "core", "k": "v"}},
        {"message": "bare", "timestamp": NS},
    ]
    assert loki.parse(body).entries == loki.parse_protobuf(body).entries


def test_loki_decoding_stops_past_the_limit() -> None:
    values = [(NS + i, f"line {i}", {}) for i in range(50)]
    assert len(loki.parse_protobuf(loki.encode_protobuf([("{}", values)]), max_entries=10).entries) == 11
    body = json.dumps({"streams": [{"stream": {}, "values": [[str(NS), "x"]] * 5}] * 10}).encode()
    assert len(loki.parse_json(body, max_entries=10).entries) <= 15


LOKI_BAD = [
    ("not json", b"{nope", "invalid JSON push body"),
    ("no streams", b'{"stream": []}', '"streams" array'),
    ("stream not object", b'{"streams": [1]}', "stream 1 must be an object"),
    ("values not array", b'{"streams": [{"stream": {}, "values": 3}]}', '"values" array'),
    ("short value", b'{"streams": [{"stream": {}, "values": [["1"]]}]}', "stream 1 value 1"),
    ("metadata not object", b'{"streams": [{"stream": {}, "values": [["1", "x", 2]]}]}', "metadata"),
    ("broken snappy", b"\xff\xff\xff\x0fnot snappy", "snappy"),
    ("snappy of garbage", bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff\xff")), "protobuf"),
    ("bad labels", bytes(cramjam.snappy.compress_raw(
        loki.push_request_class()(streams=[{"labels": "app=x"}]).SerializeToString())), "label set"),
]


@pytest.mark.parametrize("body, reason", [c[1:] for c in LOKI_BAD], ids=[c[0] for c in LOKI_BAD])
def test_loki_bad_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        loki.parse(body)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_loki_only_parse_error_escapes(body: bytes) -> None:
    for decode in (loki.parse, loki.parse_json, loki.parse_protobuf):
        try:
            decode(body)
        except ParseError:
            pass


def ndjson(*lines: Any) -> bytes:
    return b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines)


BULK_CASES: list[tuple[str, bytes, str | None, list[tuple[str, str | None, dict[str, Any] | None, str | None]]]] = [
    (
        "ECS nested",
        ndjson({"index": {}}, {"@timestamp": "2024-05-01T10:00:00.5Z", "message": "m",
                               "log": {"level": "error", "logger": "app"}, "service": {"name": "api", "environment": "prod"},
                               "host": {"name": "web1"}, "trace": {"id": "t"}, "span": {"id": "s"},
                               "error": {"type": "KeyError", "stack_trace": "st", "message": "em"},
                               "http": {"status": 500, "took": 1.5}}),
        "logs-app",
        [("index", "logs-app", {"timestamp": "2024-05-01T10:00:00.5Z", "message": "m", "service": "api",
                                "environment": "prod", "host": "web1", "traceId": "t", "spanId": "s",
                                "errorName": "KeyError", "errorStack": "st", "level": "error", "dataset": "logs-app",
                                "fields": {"log": {"logger": "app"}, "error": {"message": "em"},
                                           "http": {"status": 500, "took": 1.5}}}, None)],
    ),
    (
        "ECS flat dotted keys, _index and _type in the action, event.dataset wins",
        ndjson({"create": {"_index": "other", "_type": "_doc", "_id": "7"}},
               {"message": "m", "log.level": "warn", "service.name": "api", "host.hostname": "h",
                "event.dataset": "nginx.access", "bytes": 12}),
        "logs-app",
        [("create", "other", {"message": "m", "service": "api", "host": "h", "dataset": "nginx.access",
                              "level": "warn", "fields": {"bytes": 12}}, None)],
    ),
    (
        "plain documents, pino levels, rsyslog's template",
        ndjson({"index": {"_index": "a"}}, {"msg": "hi", "level": 30, "hostname": "h", "pid": 1},
               {"index": {"_index": "b"}}, {"message": " x", "fromhost": "r", "priority": "err",
                                            "timereported": "2024-05-01T10:00:00Z", "facility": "user"}),
        None,
        [("index", "a", {"message": "hi", "host": "h", "level": "info", "dataset": "a", "fields": {"pid": 1}}, None),
         ("index", "b", {"timestamp": "2024-05-01T10:00:00Z", "message": " x", "host": "r", "level": "error",
                         "dataset": "b", "fields": {"facility": "user"}}, None)],
    ),
    (
        "delete and update are item errors; a bad document too; no index",
        ndjson({"delete": {"_index": "a", "_id": "1"}}, {"update": {"_index": "a", "_id": "1"}}, {"doc": {}},
               {"index": {"_index": "a"}}, b"[1, 2]", {"index": {"_index": "a"}}, b"{oops",
               {"index": {}}, {"message": "m"}),
        None,
        [("delete", "a", None, "illegal_argument_exception"), ("update", "a", None, "illegal_argument_exception"),
         ("index", "a", None, "document_parsing_exception"), ("index", "a", None, "document_parsing_exception"),
         ("index", None, None, "action_request_validation_exception")],
    ),
]


@pytest.mark.parametrize("body, index, expected", [c[1:] for c in BULK_CASES], ids=[c[0] for c in BULK_CASES])
def test_bulk(body: bytes, index: str | None, expected: list[Any]) -> None:
    items = esbulk.parse(body, index)
    got = [(i.op, i.index, i.entry, i.error[0] if i.error else None) for i in items]
    assert got == expected


def test_bulk_stops_past_the_limit() -> None:
    body = ndjson(*[x for _ in range(30) for x in ({"index": {}}, {"message": "m"})])
    assert len(esbulk.parse(body, "i", max_items=10)) == 11


BULK_BAD = [
    ("empty", b"\n\n", "no actions"),
    ("action not json", b"index\n{}\n", "malformed action line"),
    ("two actions in one line", b'{"index": {}, "create": {}}\n{}\n', "malformed action line"),
    ("unknown action", b'{"upsert": {}}\n{}\n', "unknown action 'upsert'"),
    ("action without document", b'{"index": {}}\n', "has no document line"),
    ("last action without document", ndjson({"index": {}}, {"message": "a"}, {"create": {}}), "line 3"),
    ("metadata not object", b'{"index": 1}\n{}\n', "metadata must be an object"),
]


@pytest.mark.parametrize("body, reason", [c[1:] for c in BULK_BAD], ids=[c[0] for c in BULK_BAD])
def test_bulk_bad_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        esbulk.parse(body, "i")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b'{"index":{}}', b'{"delete":{}}', b'{"message":"m"}', b"{", b"[]", b"", b"1"]),
                max_size=8))
def test_bulk_only_parse_error_escapes(lines: list[bytes]) -> None:
    try:
        esbulk.parse(b"\n".join(lines), "i")
    except ParseError:
        pass


def test_loki_snappy_size_is_checked_before_decompressing() -> None:
    body = loki.encode_protobuf([("{}", [(NS, "x" * 5000, {})])])
    with pytest.raises(ParseError, match="the limit is 1000"):
        loki.parse_protobuf(body, max_bytes=1000)
    assert len(loki.parse_protobuf(body, max_bytes=100_000).entries) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b'{"index":{}}', b'{"create":{"_id":"x"}}', b'{"message":"m","n":1}', b"",
                                 b"  ", b"\r", b"{", b"1 2", b"[]", b'"s"', b'{"a":1}\r', b"\t{}",
                                 b"\x0b\x0c", b"\xff", b'{"index":{"_index":"\xc3\xa9"}}']), max_size=10))
def test_bulk_lines_decode_as_line_by_line(lines: list[bytes]) -> None:
    """The one-call decoding of a bulk body gives what decoding each line alone gives, blank
    and broken lines included, so item line numbers and errors are the same."""
    body = b"\n".join(lines)
    reference = [esbulk._decode_line(line) if line.strip() else esbulk._EMPTY for line in body.split(b"\n")]
    while reference and reference[-1] is esbulk._EMPTY:  # trailing blank lines mean nothing
        reference.pop()
    with mock.patch.object(esbulk, "_fastmodel", None):  # the Python path, as a build without C has
        python = esbulk.decoded(body)
    for got in (esbulk.decoded(body), python):
        while got and got[-1] is esbulk._EMPTY:
            got.pop()
        assert got == reference
