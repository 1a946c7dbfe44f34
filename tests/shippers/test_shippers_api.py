"""Loki push and Elasticsearch bulk over HTTP (in-process): answers, errors, mapping, bad input."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from conftest import Harness
from timberyard.formats import loki

NS = 1_700_000_000_123_456_789
PUSH = {"streams": [{"stream": {"service_name": "api", "env": "prod", "host": "web1", "level": "error",
                                "region": "eu"},
                     "values": [[str(NS), "db down", {"trace_id": "t1", "user": "u1"}], [str(NS + 1), "retry"]]}]}
NDJSON = "application/x-ndjson"


async def stored(h: Harness, q: str = "") -> list[dict[str, Any]]:
    await h.flushed()
    r = await h.client.get("/v1/logs", params={"limit": 1000, "q": q, "order": "asc"}, headers=h.auth())
    assert r.status_code == 200, r.text
    return r.json()["logs"]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def ndjson(*lines: Any) -> bytes:
    return b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines)


# -- Loki ----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["json", "gzip", "protobuf"])
async def test_loki_push_is_stored_and_answers_204(harness: Harness, encoding: str) -> None:
    headers = basic("tenant", harness.keys["ingest"])
    if encoding == "protobuf":
        body = loki.encode_protobuf([('{service_name="api", env="prod", host="web1", level="error", region="eu"}',
                                      [(NS, "db down", {"trace_id": "t1", "user": "u1"}), (NS + 1, "retry", {})])])
        headers["Content-Type"] = "application/x-protobuf"
    else:
        body = json.dumps(PUSH).encode()
        headers["Content-Type"] = "application/json"
        if encoding == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
    r = await harness.client.post("/loki/api/v1/push", content=body, headers=headers)
    assert r.status_code == 204, r.text
    assert r.content == b""
    first, second = await stored(harness)
    assert first["message"] == "db down" and first["service"] == "api" and first["environment"] == "prod"
    assert first["host"] == "web1" and first["level"] == "error" and first["traceId"] == "t1"
    assert first["fields"] == {"region": "eu", "user": "u1"}
    assert first["timestamp"] == NS // 1_000_000
    assert second["message"] == "retry" and second["fields"] == {"region": "eu"}
    assert [e["message"] for e in await stored(harness, "fields.region:eu AND level:error")] == ["db down", "retry"]


LOKI_BAD: list[tuple[str, dict[str, str], bytes, int, str]] = [
    ("malformed json", {"Content-Type": "application/json"}, b'{"streams": [', 400, "invalid JSON push body"),
    ("broken snappy", {"Content-Type": "application/x-protobuf"}, b"\x10garbage-not-snappy", 400, "snappy"),
    ("wrong content type", {"Content-Type": "text/plain"}, json.dumps(PUSH).encode(), 415, "unsupported Content-Type"),
    ("no entries", {"Content-Type": "application/json"}, b'{"streams": []}', 400, "no entries"),
    ("only invalid entries", {"Content-Type": "application/json"},
     b'{"streams": [{"stream": {}, "values": [["1", "  "]]}]}', 400, "message must not be empty"),
    ("oversized batch", {"Content-Type": "application/json"},
     json.dumps({"streams": [{"stream": {}, "values": [[str(NS), "x"]] * 20}]}).encode(), 400, "the limit is 10"),
    ("bad gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, b"not gzip", 400, "gzip"),
]


@pytest.mark.parametrize("headers, body, status, reason", [c[1:] for c in LOKI_BAD], ids=[c[0] for c in LOKI_BAD])
async def test_loki_bad_input_is_a_text_4xx_and_stores_nothing(
    make_harness: Any, headers: dict[str, str], body: bytes, status: int, reason: str
) -> None:
    async with make_harness(shipper_max_entries=10) as h:
        r = await h.client.post("/loki/api/v1/push", content=body, headers={**h.auth("ingest"), **headers})
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("text/plain") and reason in r.text
        assert await stored(h) == []


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer tb_live_wrong"}, basic("t", "wrong"), {}, {"X-API-Key": "nope"},
], ids=["bearer", "basic", "none", "x-api-key"])
async def test_loki_wrong_key_is_a_text_401(harness: Harness, headers: dict[str, str]) -> None:
    r = await harness.client.post("/loki/api/v1/push", json=PUSH, headers=headers)
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/plain") and r.text.strip()
    read = await harness.client.post("/loki/api/v1/push", json=PUSH, headers=harness.auth("read"))
    assert read.status_code == 403 and "scope" in read.text


# -- Elasticsearch ----------------------------------------------------------------------------

async def bulk(h: Harness, body: bytes, path: str = "/_bulk", method: str = "POST",
               content_type: str = NDJSON, **headers: str) -> Any:
    return await h.client.request(method, path, content=body,
                                  headers={**h.auth("ingest"), "Content-Type": content_type, **headers})


@pytest.mark.parametrize("method, content_type", [
    ("POST", NDJSON), ("PUT", "application/json"),
    ("PUT", "application/vnd.elasticsearch+x-ndjson; compatible-with=8"),
    ("POST", "application/vnd.elasticsearch+x-ndjson; compatible-with=9"),
    ("POST", "application/vnd.elasticsearch+x-ndjson;compatible-with=7"),
])
async def test_bulk_response_as_elasticsearch_writes_it(harness: Harness, method: str, content_type: str) -> None:
    body = ndjson({"index": {"_id": "a1"}}, {"message": "one", "log.level": "warn", "service": {"name": "api"}, "n": 5},
                  {"delete": {"_id": "x"}},
                  {"create": {"_index": "other", "_type": "events"}}, {"message": "two", "host": {"name": "h"}},
                  {"index": {}}, {"message": "", "note": "empty message"})
    r = await bulk(harness, body, "/logs-app/_bulk", method, content_type)
    assert r.status_code == 200, r.text
    assert r.headers["x-elastic-product"] == "Elasticsearch"
    doc = r.json()
    assert set(doc) == {"took", "errors", "items"} and doc["errors"] is True and isinstance(doc["took"], int)
    first, deleted, second, invalid = doc["items"]
    assert first["index"]["_id"] == "a1" and first["index"]["_index"] == "logs-app"
    assert first["index"]["status"] == 201 and first["index"]["result"] == "created"
    assert first["index"]["_shards"] == {"total": 1, "successful": 1, "failed": 0}
    assert {"_version", "_seq_no", "_primary_term"} <= set(first["index"])
    assert deleted["delete"]["status"] == 400 and deleted["delete"]["error"]["type"] == "illegal_argument_exception"
    assert second["create"]["status"] == 201 and second["create"]["_index"] == "other"
    assert invalid["index"]["status"] == 400 and "empty" in invalid["index"]["error"]["reason"]
    one, two = await stored(harness)
    assert one["message"] == "one" and one["level"] == "warn" and one["service"] == "api"
    assert one["dataset"] == "logs-app" and one["fields"] == {"n": 5}
    assert two["dataset"] == "other" and two["host"] == "h"


async def test_bulk_items_exactly_and_escaped(harness: Harness) -> None:
    """Every key of a stored item, in Elasticsearch's order; names and ids that need JSON
    escaping come back as sent; a generated _id is the entry's id."""
    body = ndjson({"create": {"_index": 'we"ird\\idx', "_id": 'id "1"\n'}}, {"message": "a"},
                  {"index": {"_index": "plain"}}, {"message": "b"})
    r = await bulk(harness, body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert list(doc) == ["took", "errors", "items"] and doc["errors"] is False
    first, second = doc["items"]
    assert list(first) == ["create"] and list(second) == ["index"]
    assert list(first["create"]) == ["_index", "_id", "_version", "result", "_shards", "_seq_no",
                                     "_primary_term", "status"]
    assert first["create"]["_index"] == 'we"ird\\idx' and first["create"]["_id"] == 'id "1"\n'
    assert first["create"]["_version"] == 1 and first["create"]["_primary_term"] == 1
    one, two = await stored(harness)
    ids = {entry["message"]: entry["id"] for entry in (one, two)}
    assert second["index"]["_id"] == str(int(ids["b"], 16)) == str(second["index"]["_seq_no"])
    assert first["create"]["_seq_no"] == int(ids["a"], 16)
    assert first["create"]["_seq_no"] < second["index"]["_seq_no"]


async def test_bulk_without_errors(harness: Harness) -> None:
    r = await bulk(harness, ndjson({"index": {"_index": "i"}}, {"message": "m"}))
    assert r.json()["errors"] is False and r.json()["items"][0]["index"]["status"] == 201


async def test_bulk_of_only_invalid_documents_is_200_with_item_errors(harness: Harness) -> None:
    r = await bulk(harness, ndjson({"index": {"_index": "i"}}, {"no": "message"}, {"delete": {"_index": "i", "_id": "1"}}))
    assert r.status_code == 200 and r.json()["errors"] is True
    assert [next(iter(i.values()))["status"] for i in r.json()["items"]] == [400, 400]
    assert await stored(harness) == []


ES_BAD: list[tuple[str, str, bytes, int, str]] = [
    ("malformed action", NDJSON, b"not json\n{}\n", 400, "x_content_parse_exception"),
    ("action without document", NDJSON, b'{"index": {"_index": "i"}}\n', 400, "x_content_parse_exception"),
    ("empty body", NDJSON, b"", 400, "x_content_parse_exception"),
    ("wrong content type", "text/plain", ndjson({"index": {}}, {"message": "m"}), 415, "media_type_header_exception"),
    ("oversized batch", NDJSON, ndjson(*[x for _ in range(11) for x in ({"index": {}}, {"message": "m"})]), 400,
     "illegal_argument_exception"),
]


@pytest.mark.parametrize("content_type, body, status, kind", [c[1:] for c in ES_BAD], ids=[c[0] for c in ES_BAD])
async def test_bulk_bad_input_is_an_elasticsearch_error_and_stores_nothing(
    make_harness: Any, content_type: str, body: bytes, status: int, kind: str
) -> None:
    async with make_harness(shipper_max_entries=10) as h:
        r = await bulk(h, body, "/i/_bulk", content_type=content_type)
        assert r.status_code == status, r.text
        assert r.headers["x-elastic-product"] == "Elasticsearch"
        doc = r.json()
        assert doc["status"] == status and doc["error"]["type"] == kind and doc["error"]["reason"]
        assert doc["error"]["root_cause"][0]["type"] == kind
        assert await stored(h) == []


@pytest.mark.parametrize("headers", [
    {"Authorization": "ApiKey " + base64.b64encode(b"id:tb_wrong").decode()}, {"Authorization": "Basic Zm9vOmJhcg=="}, {},
], ids=["apikey", "basic", "none"])
async def test_bulk_wrong_key_is_an_elasticsearch_401(harness: Harness, headers: dict[str, str]) -> None:
    r = await harness.client.post("/_bulk", content=ndjson({"index": {}}, {"message": "m"}),
                                  headers={"Content-Type": NDJSON, **headers})
    assert r.status_code == 401 and r.headers["x-elastic-product"] == "Elasticsearch"
    assert r.json()["error"]["type"] == "security_exception" and r.json()["status"] == 401


async def test_bulk_accepts_every_credential_form(harness: Harness) -> None:
    key = harness.keys["ingest"]
    forms = [{"Authorization": f"ApiKey {key}"}, {"Authorization": "ApiKey " + base64.b64encode(f"k1:{key}".encode()).decode()},
             basic("elastic", key), {"X-API-Key": key}]
    for headers in forms:
        r = await harness.client.post("/i/_bulk", content=ndjson({"index": {}}, {"message": "m"}),
                                      headers={"Content-Type": NDJSON, **headers})
        assert r.status_code == 200, (headers, r.text)
    assert len(await stored(harness)) == len(forms)


async def test_root_is_elasticsearch_for_clients_and_the_dashboard_for_browsers(harness: Harness) -> None:
    for headers in ({"Accept": "application/vnd.elasticsearch+json; compatible-with=8"}, harness.auth("ingest")):
        r = await harness.client.get("/", headers=headers)
        assert r.status_code == 200 and r.headers["x-elastic-product"] == "Elasticsearch"
        assert r.json()["version"]["number"].startswith("8.") and r.json()["tagline"] == "You Know, for Search"
        head = await harness.client.head("/", headers=headers)
        assert head.status_code == 200 and head.headers["x-elastic-product"] == "Elasticsearch"
    for headers in ({"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, {}):
        page = await harness.client.get("/", headers=headers)
        assert page.headers["content-type"].startswith("text/html") and "x-elastic-product" not in page.headers


@pytest.mark.parametrize("method, path, status, key", [
    ("GET", "/_cluster/health", 200, "status"),
    ("GET", "/_license", 200, "license"),
    ("GET", "/_xpack", 200, "features"),
    ("GET", "/logs-x/_refresh", 200, "_shards"),
    ("POST", "/_refresh", 200, "_shards"),
    ("HEAD", "/_index_template/filebeat", 200, None),
    ("GET", "/_index_template/filebeat", 200, "index_templates"),
    ("PUT", "/_index_template/filebeat", 200, "acknowledged"),
    ("HEAD", "/_template/logstash", 200, None),
    ("PUT", "/_template/logstash", 200, "acknowledged"),
    ("GET", "/_ilm/policy/p", 200, "p"),
    ("PUT", "/_ilm/policy/p", 200, "acknowledged"),
])
async def test_calls_around_bulk_let_a_shipper_go_on(
    harness: Harness, method: str, path: str, status: int, key: str | None
) -> None:
    r = await harness.client.request(method, path, headers=harness.auth("ingest"), content=b"{}")
    assert r.status_code == status and r.headers["x-elastic-product"] == "Elasticsearch"
    if key:
        assert key in r.json()


async def test_single_document(harness: Harness) -> None:
    r = await harness.client.post("/app/_doc", json={"message": "one", "level": "error"}, headers=harness.auth("ingest"))
    assert r.status_code == 201 and r.json()["result"] == "created" and r.headers["x-elastic-product"]
    r = await harness.client.put("/app/_doc/d2", json={"message": "two"}, headers=harness.auth("ingest"))
    assert r.status_code == 201 and r.json()["_id"] == "d2"
    bad = await harness.client.post("/app/_doc", content=b"{", headers={**harness.auth("ingest"), "Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["type"]
    assert [(e["message"], e["dataset"]) for e in await stored(harness)] == [("one", "app"), ("two", "app")]


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/_ingest/pipeline/p", 404), ("HEAD", "/_data_stream/logs", 404), ("PUT", "/_data_stream/logs", 200),
    ("POST", "/_search", 404), ("DELETE", "/_index_template/x", 404),
])
async def test_other_elasticsearch_paths_answer_in_its_shape(harness: Harness, method: str, path: str, status: int) -> None:
    r = await harness.client.request(method, path, headers=harness.auth("ingest"), content=b"{}")
    assert r.status_code == status and r.headers["x-elastic-product"] == "Elasticsearch"
    if method != "HEAD":
        body = r.json()
        assert body == {"acknowledged": True} if status == 200 else body["error"]["type"] == "resource_not_found_exception"


GARBAGE = [b"", b"\x00" * 64, b"{", b"[]", b"null", b'{"streams": null}', b"\xff\xfe\xfd", b'{"index":{}}\n{"message":1e999}\n',
           b'{"streams": [{"stream": {"a": 1}, "values": [[1, 2, [3]]]}]}', "é\u2028".encode(), b"\n" * 100,
           b'{"create": {"_index": ["x"]}}\n{"message": "m"}\n', b'{"index": {"_id": {"a": 1}}}\n{"message": {"x": 1}}\n']


@pytest.mark.parametrize("path", ["/loki/api/v1/push", "/_bulk", "/i/_bulk", "/i/_doc"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-protobuf", NDJSON, ""])
async def test_garbage_never_gets_a_5xx(harness: Harness, path: str, content_type: str) -> None:
    for body in GARBAGE:
        r = await harness.client.post(path, content=body, headers={**harness.auth("ingest"), "Content-Type": content_type})
        assert r.status_code < 500, (body, r.status_code, r.text)
    ok = await harness.client.post("/loki/api/v1/push", json=PUSH, headers=harness.auth("ingest"))
    assert ok.status_code == 204  # and the server keeps serving


async def test_shippers_may_send_bigger_batches_than_v1_logs(harness: Harness) -> None:
    # Filebeat's default bulk_max_size is 1600 and Promtail batches up to 1 MiB of lines.
    body = ndjson(*[x for n in range(1600) for x in ({"create": {"_index": "fb"}}, {"message": f"doc {n}"})])
    r = await bulk(harness, body)
    assert r.status_code == 200 and r.json()["errors"] is False and len(r.json()["items"]) == 1600
    push = {"streams": [{"stream": {"app": "big"}, "values": [[str(NS + n), f"line {n}"] for n in range(1500)]}]}
    assert (await harness.client.post("/loki/api/v1/push", json=push, headers=harness.auth("ingest"))).status_code == 204
    logs = await harness.client.post("/v1/logs", json=[{"message": "m"}] * 1500, headers=harness.auth("ingest"))
    assert logs.status_code == 400 and "1000" in logs.text
    await harness.flushed()
    r = await harness.client.get("/v1/logs", params={"limit": 1}, headers=harness.auth())
    assert r.json()["total"] == 3100
