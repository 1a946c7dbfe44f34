"""POST /api/v1/tracking/log (seed 001): one event per request, with debounce."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..alerts.fingerprint import group_title
from ..debounce import parse_use_debounce
from ..errors import TimberyardError, ValidationIssue
from ..model import normalise
from ..storage.reader import format_id
from .admin import json_body
from .common import JSONResponse, authenticate, services

# The two request keys that steer the endpoint and are not part of the entry.
_CONTROL = ("sendNotification", "useDebounce")


def _invalid(reason: str) -> TimberyardError:
    return TimberyardError("VALIDATION_ERROR", reason, issues=[{"index": 0, "error": reason}])


async def track(request: Request) -> JSONResponse:
    """One event: `{"success": true, "id": ..., "debounced": bool}`."""
    svc = services(request)
    key = authenticate(request, "ingest")
    svc.limiter.check_rate(key.org_id, key.key_id)
    body: dict[str, Any] = await json_body(request)
    notify = body.get("sendNotification")
    if notify is not None and not isinstance(notify, bool):
        raise _invalid(f"sendNotification must be true or false, got {notify!r}")
    try:
        spec = parse_use_debounce(body.get("useDebounce"))
        raw = {k: v for k, v in body.items() if k not in _CONTROL}
        now_ns = svc.clock.now_ns()
        row = normalise(
            raw,
            limits=svc.limits,
            now_ns=now_ns,
            base={"project_id": key.project_id, "received_ms": now_ns // 1_000_000},
        )
    except ValidationIssue as issue:
        raise _invalid(issue.reason) from None

    debounce_key = None
    if spec is not None:
        debounce_key = spec.key or "|".join(
            (row["level"], row.get("service", ""), group_title(row["message"]))
        )
        folded = svc.debouncer.hit(key.project_id, debounce_key)
        if folded is not None:
            return JSONResponse(
                {
                    "success": True,
                    "id": format_id(folded.entry_id),
                    "debounced": True,
                    "count": folded.count,
                }
            )

    row["id"] = svc.pipeline.assign_ids(1)
    if notify is not None:
        row["send_notification"] = notify
    if debounce_key is not None and spec is not None:
        # Opened before the await below, so a concurrent repeat folds into this entry.
        svc.debouncer.open(key.project_id, debounce_key, row["id"], spec.window_seconds)
    try:
        limit_reached = svc.limiter.reserve(key.org_id, 1)
        try:
            await svc.pipeline.submit(key.project_id, [row], ids_assigned=True)
        except BaseException:
            svc.limiter.release(key.org_id, 1)
            raise
    except BaseException:
        if debounce_key is not None:
            svc.debouncer.cancel(key.project_id, debounce_key, row["id"])
        raise
    svc.dispatcher.submit(key.org_id, [row])
    return JSONResponse(
        {
            "success": True,
            "id": format_id(row["id"]),
            "debounced": False,
            "limitReached": limit_reached,
        }
    )


routes = [Route("/api/v1/tracking/log", track, methods=["POST"])]
