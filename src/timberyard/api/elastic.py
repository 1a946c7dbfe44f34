"""Elasticsearch's bulk API and the calls shippers make around it, through the one ingestion path.

Every response carries `X-Elastic-Product: Elasticsearch` (the official clients
refuse an answer without it) and errors take Elasticsearch's shape:
`{"error": {"root_cause": [...], "type", "reason"}, "status": N}`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ParseError, TimberyardError
from ..formats import esbulk
from ..ingest.service import OFFLOAD_BYTES, Prepared, check_count
from ..model import Limits
from ..storage.meta import KeyInfo
from .common import (
    JSONResponse,
    authenticate,
    protocol_errors,
    public,
    read_body,
    services,
    shipper_limits,
)

_fastmodel: Any
try:
    from .. import _fastmodel
except ImportError:  # built without a C compiler: bulk responses are written in Python
    _fastmodel = None

VERSION = "8.17.0"
PRODUCT_HEADER = {"X-Elastic-Product": "Elasticsearch"}
BULK_TYPES = frozenset(
    {
        "",
        "application/json",
        "application/x-ndjson",
        "application/vnd.elasticsearch+x-ndjson",
        "application/vnd.elasticsearch+json",
    }
)
# Our error codes as Elasticsearch's exception types.
ERROR_TYPES = {
    "UNAUTHORIZED": "security_exception",
    "FORBIDDEN": "security_exception",
    "PARSE_ERROR": "x_content_parse_exception",
    "PAYLOAD_TOO_LARGE": "content_too_long_exception",
    "UNSUPPORTED_MEDIA_TYPE": "media_type_header_exception",
    "RATE_LIMITED": "es_rejected_execution_exception",
    "UNAVAILABLE": "unavailable_shards_exception",
    "NOT_FOUND": "resource_not_found_exception",
    "INTERNAL": "exception",
}
_SHARDS = {"total": 1, "successful": 1, "failed": 0}


class ElasticResponse(JSONResponse):
    """JSON with the product header, in the compatible media type the client asked for.

    `content` may be JSON already encoded (bytes), as the bulk response is.
    """

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)

    def __init__(self, content: Any, status_code: int = 200, request: Request | None = None,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(content, status_code, headers={**PRODUCT_HEADER, **(headers or {})})
        accept = request.headers.get("accept", "") if request is not None else ""
        if "vnd.elasticsearch+json" in accept:
            self.headers["content-type"] = accept.split(",", 1)[0].strip()


def render_error(error: TimberyardError) -> Response:
    """An Elasticsearch error body for one of ours, with its status and the product header."""
    kind = error.extra.get("es_type") or ERROR_TYPES.get(error.code, "illegal_argument_exception")
    cause = {"type": kind, "reason": error.message}
    headers = dict(error.headers)
    if error.code == "UNAUTHORIZED":
        headers["WWW-Authenticate"] = 'Basic realm="timberyard", ApiKey'
    return ElasticResponse(
        {"error": {"root_cause": [cause], **cause}, "status": error.status},
        error.status,
        headers=headers,
    )


elastic_errors = protocol_errors(render_error)


def wants_elastic(request: Request) -> bool:
    """Whether a request to `/` is an Elasticsearch client's rather than a browser's."""
    accept = request.headers.get("accept", "")
    if "text/html" in accept:
        return False
    return (
        "json" in accept
        or "authorization" in request.headers
        or "x-api-key" in request.headers
    )


@elastic_errors
async def info(request: Request) -> Response:
    """GET /: Elasticsearch's info document (for clients that check the version first)."""
    return ElasticResponse(
        {
            "name": "timberyard",
            "cluster_name": "timberyard",
            "cluster_uuid": "timberyard-0000000000000000",
            "version": {
                "number": VERSION,
                "build_flavor": "default",
                "build_type": "timberyard",
                "build_hash": "timberyard",
                "build_date": "2024-12-11T12:08:05.663969764Z",
                "build_snapshot": False,
                "lucene_version": "9.12.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        },
        request=request,
    )


def check_media_type(request: Request) -> None:
    """415 for a bulk body that is not JSON or NDJSON."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in BULK_TYPES:
        raise TimberyardError(
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content-Type header [{content_type}] is not supported:"
            " send application/x-ndjson or application/json",
        )


@elastic_errors
async def bulk(request: Request) -> Response:
    """POST|PUT /_bulk: index and create actions stored, the others refused item by item."""
    svc = services(request)
    key = authenticate(request, "ingest")
    await svc.ingestor.admit(key)
    check_media_type(request)
    limits = shipper_limits(svc)
    body = await read_body(request, limits.max_body_bytes)
    started = time.monotonic()
    index = request.path_params.get("index")

    def decode() -> tuple[list[esbulk.Item], Prepared | None]:
        values = esbulk.decoded(body)
        plain = esbulk.parse_plain(values, index, limits.max_entries)
        if plain is not None:  # the common body: every item is stored unless invalid
            items, docs = plain
            check_count(len(items), limits)
            return items, prepare_items(svc, key, items, limits, docs)
        try:
            items = esbulk.parse(body, index, limits.max_entries, values=values)
        except ParseError as exc:
            raise exc.to_api() from None
        check_count(len(items), limits)
        return items, prepare_items(svc, key, items, limits)

    if len(body) > OFFLOAD_BYTES:
        items, prepared = await asyncio.to_thread(decode)
    else:
        items, prepared = decode()
    if prepared is not None and prepared.rows:
        await svc.ingestor.commit(key, prepared, surface="elastic")
    return ElasticResponse(bulk_response(items, prepared, started), request=request)


def prepare_items(
    svc: Any,
    key: KeyInfo,
    items: list[esbulk.Item],
    limits: Limits | None = None,
    docs: list[dict[str, Any]] | None = None,
) -> Prepared | None:
    """Normalise the documents of the stored actions; invalid ones become item errors.

    The rows are in the order of the items that still have no error, which is how
    `bulk_response` pairs them. `docs` are the unmapped documents of `parse_plain`'s
    items (each one stored), which the ECS mapping takes on the ingestion path; the
    items of `parse` carry their entries already mapped.
    """
    if docs is not None:
        stored = items
        entries: list[Any] = docs
        mapping: esbulk.EcsDocs | None = esbulk.EcsDocs([item.index for item in items])
    else:
        stored = [item for item in items if item.entry is not None and item.error is None]
        entries = [item.entry for item in stored]
        mapping = None
    if not stored:
        return None
    try:
        prepared = svc.ingestor.prepare(key, entries, limits=limits, mapping=mapping)
    except TimberyardError as error:
        if error.code != "VALIDATION_ERROR" or not error.extra.get("issues"):
            raise
        # None was valid: every document is an item error (reasons for the first ones).
        reasons = {issue["index"]: issue["error"] for issue in error.extra["issues"]}
        for position, item in enumerate(stored):
            item.error = ("document_parsing_exception", reasons.get(position, "invalid document"))
        return None
    for issue in prepared.errors:
        stored[issue["index"]].error = ("document_parsing_exception", issue["error"])
    return prepared


def bulk_response(
    items: list[esbulk.Item], prepared: Prepared | None, started: float
) -> bytes:
    """The bulk response as Elasticsearch writes it, items in request order, as JSON bytes.

    Written from a template per stored item rather than through dicts (compiled where
    the build has it): a bulk of thousands of documents answers with as many items, and
    this is on the hot path.
    """
    rows = prepared.rows if prepared is not None else []
    if _fastmodel is not None:
        joined, errors = _fastmodel.bulk_answer(
            items, rows, _created_head, _CREATED_MIDDLE, _CREATED_TAIL, _encode, _failed
        )
    else:
        joined, errors = _answer(items, rows)
    took = int((time.monotonic() - started) * 1000)
    return b'{"took":%d,"errors":%s,"items":[%s]}' % (
        took,
        b"true" if errors else b"false",
        joined,
    )


def _answer(items: list[esbulk.Item], rows: list[dict[str, Any]]) -> tuple[bytes, bool]:
    """`_fastmodel.bulk_answer`, for a build without it."""
    out: list[bytes] = []
    errors = False
    stored = iter(rows)
    for item in items:
        if item.error is not None:
            errors = True
            out.append(_failed(item))
            continue
        seq = next(stored)["id"]
        doc_id = b'"%d"' % seq if item.id is None else _encode(item.id)
        head = _created_head(item.op, item.index)
        out.append(head + doc_id + _CREATED_MIDDLE + b"%d" % seq + _CREATED_TAIL)
    return b",".join(out), errors


def _failed(item: esbulk.Item) -> bytes:
    """The response item of an action that stored nothing."""
    kind, reason = item.error or ("illegal_argument_exception", "invalid action")
    result = {
        "_index": item.index,
        "_id": item.id,
        "status": 400,
        "error": {"type": kind, "reason": reason, "index": item.index},
    }
    return _encode({item.op: result})


_encode = msgspec.json.Encoder().encode


# One stored item of a bulk response, the keys of `created` in its order: head
# (operation and _index), _id, middle, _seq_no, tail.
def _created_head(op: str, index: str | None) -> bytes:
    return b'{"%s":{"_index":%s,"_id":' % (op.encode(), _encode(index))


_CREATED_MIDDLE = b',"_version":1,"result":"created","_shards":' + _encode(_SHARDS) + b',"_seq_no":'
_CREATED_TAIL = b',"_primary_term":1,"status":201}}'


def created(item: esbulk.Item, row: dict[str, Any]) -> dict[str, Any]:
    """The result of one stored document, as Elasticsearch reports it."""
    return {
        "_index": item.index,
        "_id": item.id if item.id is not None else str(row["id"]),
        "_version": 1,
        "result": "created",
        "_shards": _SHARDS,
        "_seq_no": row["id"],
        "_primary_term": 1,
        "status": 201,
    }


@elastic_errors
async def single(request: Request) -> Response:
    """POST /{index}/_doc: one document, stored like a bulk `index` action."""
    svc = services(request)
    key = authenticate(request, "ingest")
    await svc.ingestor.admit(key)
    check_media_type(request)
    body = await read_body(request, svc.limits.max_body_bytes)
    index = request.path_params["index"]
    doc_id = request.path_params.get("id")
    item = esbulk.Item(op="index", index=index, id=doc_id, line=1)
    esbulk.document(item, body)
    prepared = prepare_items(svc, key, [item]) if item.error is None else None
    if item.error is not None or prepared is None:
        kind, reason = item.error or ("document_parsing_exception", "invalid document")
        raise TimberyardError("VALIDATION_ERROR", reason, es_type=kind)
    accepted = await svc.ingestor.commit(key, prepared, surface="elastic")
    result = created(item, accepted.rows[0])
    del result["status"]
    return ElasticResponse(result, 201, request=request)


@public
@elastic_errors
async def refresh(request: Request) -> Response:
    """POST|GET /{index}/_refresh: a no-op; entries are searchable once flushed."""
    return ElasticResponse({"_shards": _SHARDS}, request=request)


@public
@elastic_errors
async def cluster_health(request: Request) -> Response:
    """GET /_cluster/health: always green (for shippers' health checks)."""
    return ElasticResponse(
        {
            "cluster_name": "timberyard",
            "status": "green",
            "timed_out": False,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": 1,
            "active_shards": 1,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0,
        },
        request=request,
    )


_LICENSE = {
    "status": "active",
    "uid": "timberyard",
    "type": "basic",
    "issue_date_in_millis": 0,
    "max_nodes": 1000,
    "issued_to": "timberyard",
    "issuer": "timberyard",
    "start_date_in_millis": -1,
}


@public
@elastic_errors
async def license_info(request: Request) -> Response:
    """GET /_license: a basic licence (Beats and Logstash ask before sending)."""
    return ElasticResponse({"license": _LICENSE}, request=request)


@public
@elastic_errors
async def xpack(request: Request) -> Response:
    """GET /_xpack: no X-Pack features, a basic licence."""
    return ElasticResponse(
        {
            "build": {"hash": "timberyard", "date": "2024-12-11T12:08:05.663969764Z"},
            "license": {key: _LICENSE[key] for key in ("uid", "type", "status")},
            "features": {},
        },
        request=request,
    )


@public
@elastic_errors
async def template(request: Request) -> Response:
    """GET|PUT /_index_template/{name} (and _template, _ilm/policy): accepted, nothing kept.

    HEAD and GET say the template exists, so that shippers go on without installing it.
    """
    name = request.path_params["name"]
    if request.method == "PUT":
        await read_body(request, services(request).limits.max_body_bytes)
        return ElasticResponse({"acknowledged": True}, request=request)
    path = request.url.path
    if path.startswith("/_index_template/"):
        body: dict[str, Any] = {
            "index_templates": [
                {"name": name, "index_template": {"index_patterns": [f"{name}*"], "template": {}}}
            ]
        }
    elif path.startswith("/_ilm/policy/"):
        body = {name: {"version": 1, "modified_date": "2024-01-01T00:00:00.000Z",
                       "policy": {"phases": {}}}}  # fmt: skip
    else:
        body = {name: {"order": 0, "index_patterns": [f"{name}*"], "settings": {},
                       "mappings": {}, "aliases": {}}}  # fmt: skip
    return ElasticResponse(body, request=request)


@public
@elastic_errors
async def other(request: Request) -> Response:
    """GET|PUT /_...: any other Elasticsearch API; a PUT of set-up is acknowledged, else 404."""
    if request.method == "PUT":
        await read_body(request, services(request).limits.max_body_bytes)
        return ElasticResponse({"acknowledged": True}, request=request)
    path = request.url.path
    raise TimberyardError(
        "NOT_FOUND",
        f"no such Elasticsearch API [{request.method} {path}]: timberyard answers _bulk,"
        " {index}/_doc, _refresh, _cluster/health, _license and template probes",
    )


_WRITE = ["POST", "PUT"]
_PROBE = ["GET", "PUT"]  # HEAD comes with GET

routes = [
    Route("/_bulk", bulk, methods=_WRITE),
    Route("/{index}/_bulk", bulk, methods=_WRITE),
    Route("/{index}/_doc", single, methods=["POST"]),
    Route("/{index}/_doc/{id}", single, methods=_WRITE),
    Route("/{index}/_create/{id}", single, methods=_WRITE),
    Route("/_refresh", refresh, methods=["GET", "POST"]),
    Route("/{index}/_refresh", refresh, methods=["GET", "POST"]),
    Route("/_cluster/health", cluster_health, methods=["GET"]),
    Route("/_license", license_info, methods=["GET"]),
    Route("/_xpack", xpack, methods=["GET"]),
    Route("/_index_template/{name}", template, methods=_PROBE),
    Route("/_template/{name}", template, methods=_PROBE),
    Route("/_ilm/policy/{name}", template, methods=_PROBE),
    Route("/_{rest:path}", other, methods=["GET", "PUT", "POST", "DELETE"]),  # last
]
