"""POST /api/v1/tracking/log (seed 001): one event per request, with debounce."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..alerts.fingerprint import group_title
from ..debounce import parse_use_debounce
from ..errors import TimberyardError, ValidationIssue
from ..model import LEVELS
from ..storage.reader import format_id
from .common import JSONResponse, authenticate, json_body, services

# The two request keys that steer the endpoint and are not part of the entry.
_CONTROL = ("sendNotification", "useDebounce")

# Seed 001's levels, then the canonical ones and SPEC §1's aliases. The wider
# vocabulary shippers send to /v1/logs (verbose, notice...) is not part of this contract.
SEED_LEVELS = ("info", "success", "error", "warning", "critical")
TRACKING_LEVELS = frozenset(
    (*SEED_LEVELS, *LEVELS, "err", "information", "dbg", "emergency", "alert")
)


def _check_level(value: object) -> None:
    if value is None:
        return
    if isinstance(value, str) and value.strip().lower() in TRACKING_LEVELS:
        return
    others = ", ".join(sorted(TRACKING_LEVELS - set(SEED_LEVELS)))
    raise _invalid(
        f"unknown level {value!r}: expected one of {', '.join(SEED_LEVELS)} (or {others})"
    )


def _invalid(reason: str) -> TimberyardError:
    return TimberyardError("VALIDATION_ERROR", reason, issues=[{"index": 0, "error": reason}])


async def track(request: Request) -> JSONResponse:
    """One event: `{"success": true, "id": ..., "debounced": bool}`."""
    svc = services(request)
    ingestor = svc.ingestor
    key = authenticate(request, "ingest")
    await ingestor.admit(key)
    body: dict[str, Any] = await json_body(request)
    notify = body.get("sendNotification")
    if notify is not None and not isinstance(notify, bool):
        raise _invalid(f"sendNotification must be true or false, got {notify!r}")
    try:
        spec = parse_use_debounce(body.get("useDebounce"))
    except ValidationIssue as issue:
        raise _invalid(issue.reason) from None
    _check_level(body.get("level"))
    raw = {k: v for k, v in body.items() if k not in _CONTROL}
    try:
        prepared = ingestor.prepare(key, [raw], strict=True)
    except TimberyardError as error:
        issues = error.extra.get("issues")
        raise _invalid(issues[0]["error"]) if issues else error from None
    row = prepared.rows[0]

    debounce_key = None
    row["id"] = ingestor.assign_ids(1)
    if spec is not None:
        debounce_key = spec.key or "|".join(
            (row["level"], row.get("service", ""), group_title(row["message"]))
        )
        # Folds into the open window, or opens one for this entry before the await
        # below, so a concurrent repeat (on any node) folds into this entry.
        folded = svc.debouncer.claim(key.project_id, debounce_key, row["id"], spec.window_seconds)
        if folded is not None:
            return JSONResponse(
                {
                    "success": True,
                    "id": format_id(folded.entry_id),
                    "debounced": True,
                    "count": folded.count,
                }
            )

    if notify is not None:
        row["send_notification"] = notify
    try:
        accepted = await ingestor.commit(key, prepared, "tracking")
    except BaseException:
        if debounce_key is not None:
            svc.debouncer.cancel(key.project_id, debounce_key, row["id"])
        raise
    return JSONResponse(
        {
            "success": True,
            "id": format_id(row["id"]),
            "debounced": False,
            "limitReached": accepted.limit_reached,
        }
    )


routes = [Route("/api/v1/tracking/log", track, methods=["POST"])]
