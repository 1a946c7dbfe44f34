"""The compiled bulk path agrees with esbulk.parse and esbulk.entry, document for document.

`bulk_plain` may refuse a body (None) for `parse` to decide, and `ecs_rows` may hand a
document back (None) for `entry` + `normalise` to decide; where they answer, the answer
must be exactly the Python one. The common shippers' documents must not be handed back,
or the fast path would silently stop being fast.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Harness
from timberyard import _fastmodel
from timberyard.api import elastic
from timberyard.clock import Clock
from timberyard.errors import ValidationIssue
from timberyard.formats import esbulk
from timberyard.model import DEFAULT_LIMITS, Limits, normalise

NOW = 1_705_312_200_123_456_789
BASE = {"project_id": "prj_1", "received_ms": NOW // 1_000_000}
LONG_INDEX = "logs-" + "x" * 150


def reference(doc: Any, index: str | None, limits: Limits = DEFAULT_LIMITS,
              defaults: dict[str, str] | None = None) -> dict[str, Any] | None:
    try:
        return normalise(esbulk.entry(doc, index), defaults=defaults or {}, limits=limits, now_ns=NOW, base=BASE)
    except ValidationIssue:
        return None


def fast(docs: list[Any], indexes: list[str | None], limits: Limits = DEFAULT_LIMITS,
         defaults: dict[str, str] | None = None) -> list[dict[str, Any] | None]:
    rows = esbulk.EcsDocs(indexes).fast(docs, defaults or {}, limits, NOW, BASE)
    assert len(rows) == len(docs)
    for doc, index, row in zip(docs, indexes, rows, strict=True):
        if row is not None:
            assert row == reference(doc, index, limits, defaults), doc
    return rows


# What Filebeat, Logstash, rsyslog's omelasticsearch, pino-elasticsearch and the
# Elasticsearch clients send most of the time.
COMMON = [
    {"@timestamp": "2024-01-15T10:30:00.123Z", "message": "GET /api 200", "log.level": "info",
     "service.name": "api", "host.name": "web-1", "trace.id": "abc", "http.status": 200},
    {"@timestamp": "2024-01-15T10:30:00Z", "message": "disk full", "level": "error", "host": "db",
     "service": "pg", "env": "prod", "pid": 4411},
    {"timestamp": 1705312200123, "msg": "pino line", "level": "warn", "hostname": "h", "pid": 7, "v": 1},
    {"timereported": "2024-01-15T10:30:00.5+01:00", "message": "rsyslog line", "severity": "notice",
     "fromhost": "r1", "facility": "user", "programname": "sshd"},
    {"message": "only a message"},
    {"message": "unicode é 😀", "event.dataset": "nginx.access", "tags": ["a", "b"], "user": {"id": 3}},
    {"message": "error", "error.type": "KeyError", "error.stack_trace": "at x\n at y", "span.id": "s1"},
]


def test_the_compiled_path_is_built() -> None:
    assert esbulk._fastmodel is _fastmodel, "timberyard._fastmodel did not build: run ./scripts/setup"


def test_takes_the_common_documents() -> None:
    rows = fast(COMMON, ["logs"] * len(COMMON))
    assert all(row is not None for row in rows), rows
    assert rows[0]["dataset"] == "logs" and rows[5]["dataset"] == "nginx.access"


HANDED_BACK = [
    ("nested ECS object", {"message": "m", "log": {"level": "warn"}}),
    ("nested head that is also a path", {"message": "m", "host": {"name": "h"}}),
    ("two paths for one column", {"message": "m", "msg": "n"}),
    ("a path with null", {"message": "m", "host": None}),
    ("a path with a list", {"message": "m", "service": ["a"]}),
    ("pino's number level", {"message": "m", "level": 30}),
    ("level in digits", {"message": "m", "level": "50"}),
    ("level we do not know", {"message": "m", "level": "loud"}),
    ("no message", {"host": "h"}),
]


@pytest.mark.parametrize("doc", [c[1] for c in HANDED_BACK], ids=[c[0] for c in HANDED_BACK])
def test_hands_back_what_python_decides(doc: dict[str, Any]) -> None:
    assert fast([doc], ["i"]) == [None]
    # And the Python path still takes most of them.
    assert reference({"message": "m", **doc}, "i") is not None


ECS_KEYS = list(esbulk._PATHS) + ["pid", "n", "tags", "fields", "id", "dataset", "project_id"]
VALUES = st.one_of(
    st.sampled_from(["info", "warning", "WARN", " Error ", "30", "50", "verbose", "", " x",
                     "2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123456789+02:00", "not a time"]),
    st.text(max_size=8),
    st.integers(-2, 2**64),
    st.sampled_from([30, 50, 1705312200123, True, None, 1.5]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["name", "level", "id", "x"]), st.sampled_from(["h", "warn", None, 1]),
                    max_size=2),
)


@st.composite
def documents(draw: Any) -> Any:
    doc = draw(st.dictionaries(st.sampled_from(ECS_KEYS), VALUES, max_size=6))
    if draw(st.booleans()):
        doc.setdefault("message", draw(st.sampled_from(["m", "é" * 300, " lead", "x" * 40])))
    return doc if draw(st.integers(0, 20)) else draw(st.sampled_from([[1], "text", 5, None]))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(documents(), st.sampled_from(["logs", LONG_INDEX, "filebeat-8.0", None])), max_size=6),
       st.sampled_from([None, {"service": "dflt", "level": "debug"}, {"dataset": "d"}]),
       st.sampled_from([DEFAULT_LIMITS, Limits(max_message_bytes=64)]))
def test_property_agrees_with_entry_and_normalise(pairs: list[tuple[Any, str | None]],
                                                  defaults: dict[str, str] | None, limits: Limits) -> None:
    fast([doc for doc, _ in pairs], [index for _, index in pairs], limits, defaults)


ACTIONS = [{"index": {}}, {"create": {}}, {"index": {"_index": "a", "_id": 5}}, {"create": {"_index": "b", "_id": "x"}},
           {"index": {"_index": ""}}, {"index": {"_index": None}}, {"index": {"_id": None}}, {"delete": {"_id": "1"}},
           {"update": {"_id": "1"}}, {"index": 1}, {"index": {}, "create": {}}, {"upsert": {}}, [1], "s"]
DOCS = [{"message": "m"}, {"message": "n", "log.level": "warn"}, [1, 2], 3, {"doc": {}}]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ACTIONS + DOCS), max_size=8), st.sampled_from([None, "path-index"]),
       st.sampled_from([None, 2, 100]))
def test_property_plain_bodies_are_parsed_as_parse_does(values: list[Any], index: str | None,
                                                         max_items: int | None) -> None:
    body = b"\n".join(json.dumps(value).encode() for value in values) + b"\n"
    decoded = esbulk.decoded(body)
    plain = esbulk.parse_plain(decoded, index, max_items)
    if plain is None:
        return
    items, docs = plain
    parsed = esbulk.parse(body, index, max_items)
    assert [(i.op, i.index, i.id, i.line, i.error) for i in items] == [
        (i.op, i.index, i.id, i.line, i.error) for i in parsed]
    assert [i.entry for i in parsed] == [esbulk.entry(doc, item.index) for doc, item in zip(docs, items, strict=True)]


def test_plain_takes_the_common_body_and_refuses_the_rest() -> None:
    body = b"".join(json.dumps(x).encode() + b"\n" for x in [{"index": {"_index": "a", "_id": 1}}, {"message": "m"},
                                                              {"create": {}}, {"message": "n"}])
    plain = esbulk.parse_plain(esbulk.decoded(body), "p")
    assert plain is not None
    items, docs = plain
    assert [(i.op, i.index, i.id, i.line) for i in items] == [("index", "a", "1", 1), ("create", "p", None, 3)]
    assert docs == [{"message": "m"}, {"message": "n"}]
    for refused in [body + b"\n" + body, body + b'{"delete": {}}\n', body.replace(b'"create": {}', b'"create": 1')]:
        assert esbulk.parse_plain(esbulk.decoded(refused), "p") is None, refused
    assert esbulk.parse_plain(esbulk.decoded(body), None) is None  # the second names no index
    assert esbulk.parse_plain(esbulk.decoded(body), "p", max_items=1) is None


# Through HTTP, with and without the compiled path: the same answers and the same entries.
BODIES = [
    [{"index": {"_index": "a", "_id": "i1"}}, COMMON[0], {"create": {}}, COMMON[2], {"index": {}}, COMMON[3]],
    [{"index": {}}, {"message": "m", "log": {"level": "warn"}, "host": {"name": "h", "ip": "1"}},
     {"index": {}}, {"message": "m", "msg": "n", "level": 50}, {"index": {}}, {"no": "message"}],
    [{"index": {}}, {"message": "a"}, {"delete": {"_id": "1"}}, {"index": {"_index": ""}}, {"message": "b"},
     {"update": {"_id": "1"}}, {"doc": {}}, {"index": {}}, [1]],
]


def items_of(doc: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    out = []
    for item in doc["items"]:
        [(op, result)] = item.items()
        out.append((op, result["_index"], result["status"], result.get("error", {}).get("type")))
    return out


async def send_all(h: Harness) -> tuple[list[Any], list[dict[str, Any]]]:
    answers = []
    for number, values in enumerate(BODIES):
        body = b"".join(json.dumps(x).encode() + b"\n" for x in values)
        r = await h.client.post(f"/idx{number}/_bulk", content=body,
                                headers={**h.auth("ingest"), "Content-Type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        answers.append((r.json()["errors"], items_of(r.json())))
    await h.flushed()
    r = await h.client.get("/v1/logs", params={"limit": 100, "order": "asc"}, headers=h.auth())
    keep = ("message", "level", "service", "environment", "host", "dataset", "traceId", "fields", "timestamp")
    return answers, sorted(({k: e.get(k) for k in keep} for e in r.json()["logs"]), key=json.dumps)


async def test_the_same_through_http_with_and_without_the_compiled_path(
    make_harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(fixed=time.time())  # the same time for the entries that name none
    async with make_harness(clock=clock) as h:
        compiled = await send_all(h)
    monkeypatch.setattr(esbulk, "_fastmodel", None)
    monkeypatch.setattr(elastic, "_fastmodel", None)
    async with make_harness(clock=clock) as h:
        python = await send_all(h)
    assert compiled == python
    answers, entries = compiled
    assert [errors for errors, _ in answers] == [False, True, True]
    assert len(entries) == 3 + 2 + 1


def test_the_compiled_answer_is_the_python_one() -> None:
    items = [esbulk.Item("create", "logs", None, 1), esbulk.Item("index", 'we"ird\\', 'id "1"\n', 3),
             esbulk.Item("delete", "logs", "9", 5, error=("illegal_argument_exception", "no")),
             esbulk.Item("index", "logs", "7", 6), esbulk.Item("create", "logs", None, 8),
             esbulk.Item("index", None, None, 10, error=("action_request_validation_exception", "index is missing"))]
    rows = [{"id": 0}, {"id": 2**64 - 1}, {"id": 2**63}, {"id": 12345678901234567}]
    compiled = _fastmodel.bulk_answer(items, rows, elastic._created_head, elastic._CREATED_MIDDLE,
                                      elastic._CREATED_TAIL, elastic._encode, elastic._failed)
    assert compiled == elastic._answer(items, rows)
    joined, errors = compiled
    assert errors is True
    answer = json.loads(b"[" + joined + b"]")
    assert [next(iter(i.values()))["_id"] for i in answer] == ["0", 'id "1"\n', "9", "7", "12345678901234567", None]
    assert answer[1]["index"]["_seq_no"] == 2**64 - 1 and answer[1]["index"]["_index"] == 'we"ird\\'
    assert _fastmodel.bulk_answer(items[:1], rows[:1], elastic._created_head, elastic._CREATED_MIDDLE,
                                  elastic._CREATED_TAIL, elastic._encode, elastic._failed)[1] is False
    with pytest.raises(ValueError, match="more stored items than rows"):
        _fastmodel.bulk_answer(items, rows[:1], elastic._created_head, elastic._CREATED_MIDDLE,
                               elastic._CREATED_TAIL, elastic._encode, elastic._failed)
