"""POST /v1/logs: decode a body in any format, validate, and hand rows to the pipeline."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from .. import formats
from ..alerts.fingerprint import fingerprint
from ..errors import ParseError, TimberyardError, ValidationIssue
from ..model import ERROR_SEVERITY, Limits, normalise, normalise_many, parse_level
from ..storage.meta import KeyInfo
from .common import JSONResponse, authenticate, read_body, services

MAX_REPORTED_ERRORS = 100
OFFLOAD_BYTES = 1024 * 1024
DEFAULT_PARAMS = ("source", "environment", "level", "dataset")


def query_defaults(request: Request) -> dict[str, str]:
    """The `source`, `environment`, `level`, `dataset` query defaults (SPEC §2.1)."""
    defaults: dict[str, str] = {}
    for name in DEFAULT_PARAMS:
        value = request.query_params.get(name)
        if value:
            defaults["service" if name == "source" else name] = value
    if "level" in defaults:
        try:
            defaults["level"] = parse_level(defaults["level"])
        except ValidationIssue as issue:
            raise TimberyardError(
                "BAD_REQUEST", f"invalid level query parameter: {issue.reason}"
            ) from None
    return defaults


def decode_entries(body: bytes, fmt: str, limits: Limits, now_ns: int) -> formats.Parsed:
    """Parse a body; PARSE_ERROR when it cannot be, 400 beyond the entry limit."""
    try:
        parsed = formats.parser(fmt)(body, now_ns)
    except ParseError as exc:
        raise exc.to_api() from None
    count = len(parsed.entries)
    if count == 0:
        raise TimberyardError("VALIDATION_ERROR", "the body holds no entries", issues=[])
    if count > limits.max_entries:
        raise TimberyardError(
            "VALIDATION_ERROR",
            f"{count} entries in one request; the limit is {limits.max_entries}",
            issues=[],
            limit=limits.max_entries,
        )
    return parsed


def validate(
    parsed: formats.Parsed,
    defaults: dict[str, str],
    limits: Limits,
    now_ns: int,
    project_id: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Canonical rows of the valid entries, and one error per invalid entry."""
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    lines = parsed.lines
    base = {"project_id": project_id, "received_ms": now_ns // 1_000_000} if project_id else None
    entries = parsed.entries
    fast = normalise_many(entries, defaults=defaults, limits=limits, now_ns=now_ns, base=base)
    for index, row in enumerate(fast):
        if row is None:
            try:
                row = normalise(
                    entries[index], defaults=defaults, limits=limits, now_ns=now_ns, base=base
                )
            except ValidationIssue as issue:
                error: dict[str, Any] = {"index": index, "error": issue.reason}
                if lines is not None:
                    error["line"] = lines[index]
                errors.append(error)
                continue
        if row["severity"] >= ERROR_SEVERITY:
            row["fingerprint"] = fingerprint(
                row.get("service"), row.get("error_name"), row["message"]
            )
        rows.append(row)
    return rows, errors


def _decode_and_validate(
    body: bytes,
    fmt: str,
    defaults: dict[str, str],
    limits: Limits,
    now_ns: int,
    project_id: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    parsed = decode_entries(body, fmt, limits, now_ns)
    return validate(parsed, defaults, limits, now_ns, project_id)


async def ingest_body(
    request: Request, body: bytes, key: KeyInfo, limits: Limits, browser: bool = False
) -> dict[str, Any]:
    """Parse, validate, count against the quota and store a body; the success document."""
    svc = services(request)
    project_id = key.project_id
    org_id = key.org_id
    now_ns = svc.clock.now_ns()
    if browser:
        # sendBeacon posts JSON as text/plain: the browser endpoint reads JSON only.
        fmt = request.query_params.get("format") or formats.detect_json(body)
    else:
        fmt = formats.resolve(
            request.query_params.get("format"), request.headers.get("content-type"), body
        )
    defaults = query_defaults(request)
    if len(body) > OFFLOAD_BYTES:
        # Large bodies parse in a worker thread so that small requests keep flowing.
        rows, errors = await run_in_threadpool(
            _decode_and_validate, body, fmt, defaults, limits, now_ns, project_id
        )
    else:
        rows, errors = _decode_and_validate(body, fmt, defaults, limits, now_ns, project_id)
    strict = request.query_params.get("strict", "").lower() in ("1", "true", "yes")
    if errors and (strict or not rows):
        first = errors[0]
        where = f"line {first['line']}" if "line" in first else f"entry {first['index']}"
        raise TimberyardError(
            "VALIDATION_ERROR",
            f"{len(errors)} invalid entr{'y' if len(errors) == 1 else 'ies'};"
            f" {where}: {first['error']}",
            issues=errors[:MAX_REPORTED_ERRORS],
        )
    limit_reached = svc.limiter.reserve(org_id, len(rows))
    try:
        await svc.pipeline.submit(project_id, rows)
    except BaseException:
        svc.limiter.release(org_id, len(rows))
        raise
    # Durable now: notifications are decided off the request path (never blocks).
    svc.dispatcher.submit(org_id, rows)
    result: dict[str, Any] = {
        "success": True,
        "count": len(rows),
        "accepted": len(rows),
        "rejected": len(errors),
        "bytesIngested": len(body),
        "limitReached": limit_reached,
        "timestamp": svc.clock.now_ms(),
    }
    if errors:
        result["errors"] = errors[:MAX_REPORTED_ERRORS]
    return result


async def post_logs(request: Request) -> JSONResponse:
    """POST /v1/logs with a server or ingest key."""
    svc = services(request)
    key = authenticate(request, "ingest")
    svc.limiter.check_rate(key.org_id, key.key_id)
    body = await read_body(request, svc.limits.max_body_bytes)
    result = await ingest_body(request, body, key, svc.limits)
    return JSONResponse(result)


routes = [Route("/v1/logs", post_logs, methods=["POST"])]
