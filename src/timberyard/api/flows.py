"""POST /v1/flows: a fresh flow id for the Timberlogs SDK's `flow_async()`.

A flow is only an id that entries carry (`flowId`, with `stepIndex`); nothing is
stored until they arrive. GET /v1/flows/{id} (api/query.py) lists them by step.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.routing import Route

from ..errors import TimberyardError
from ..model import MAX_LENGTH
from .common import JSONResponse, authenticate, json_body, services

# The SDK checks flowId against 50 characters; the id is the name, "-" and 8 hex digits.
MAX_FLOW_ID = 50
MAX_NAME = MAX_FLOW_ID - 9


def flow_name(value: object) -> str:
    """A flow's name, checked: a string of 1 to MAX_NAME printable characters."""
    if not isinstance(value, str) or not value.strip():
        raise TimberyardError(
            "BAD_REQUEST", f'invalid flow name {value!r}: send {{"name": "checkout"}}'
        )
    name = value.strip()
    if len(name) > MAX_NAME:
        raise TimberyardError(
            "BAD_REQUEST",
            f"flow name {name[:60]!r} is {len(name)} characters long; the limit is {MAX_NAME}",
        )
    if not name.isprintable():
        raise TimberyardError(
            "BAD_REQUEST", f"flow name {name!r} holds control characters: remove them"
        )
    return name


async def post_flow(request: Request) -> JSONResponse:
    """POST /v1/flows {"name"}: a new flow id `<name>-<8 hex digits>` (ingest scope)."""
    svc = services(request)
    grant = authenticate(request, "ingest")
    await svc.ingestor.admit(grant)
    doc = await json_body(request, 64 * 1024)
    name = flow_name(doc.get("name"))
    flow_id = f"{name}-{secrets.token_hex(4)}"
    assert len(flow_id) <= min(MAX_FLOW_ID, MAX_LENGTH["flow_id"])
    return JSONResponse({"flowId": flow_id, "name": name})


routes = [Route("/v1/flows", post_flow, methods=["POST"])]
