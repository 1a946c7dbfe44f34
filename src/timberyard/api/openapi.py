"""GET /openapi.json: the OpenAPI description of every route, built from the routes themselves."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Mount, Route

from .. import __version__
from ..errors import DESCRIPTIONS, STATUS_BY_CODE
from .common import JSONResponse

_Q = ("q", "query language filter, e.g. `level:error AND fields.service:api`")
_FROM = ("from", "start: ISO 8601, ms since epoch, `now` or relative (`-15m`, `-24h`)")
_TO = ("to", "end (exclusive), same forms as `from`")

# Query parameters of the routes that take them: (name, description).
PARAMETERS: dict[str, list[tuple[str, str]]] = {
    "POST /v1/logs": [
        (
            "format",
            "json, jsonl, syslog, text, csv, obl or otlp; else Content-Type, else sniffed"
            " (OTLP/HTTP logs: application/x-protobuf, or JSON with resourceLogs)",
        ),
        ("source", "default service for entries without one"),
        ("environment", "default environment"),
        ("level", "default level"),
        ("dataset", "default dataset"),
        ("strict", "true: any invalid entry fails the whole request"),
    ],
    "POST /v1/logs/browser": [
        ("key", "public pk_ key (or header X-Timberyard-Key)"),
        ("format", "json or jsonl"),
    ],
    "GET /v1/logs": [
        _Q,
        _FROM,
        _TO,
        ("limit", "1 to 10000, default 100"),
        ("order", "desc (default) or asc"),
        ("cursor", "nextCursor of the previous page"),
        ("offset", "entries to skip"),
        ("total", "false skips the exact total"),
        ("project", "with the admin token: the project to read"),
    ],
    "GET /v1/histogram": [
        _Q,
        _FROM,
        _TO,
        ("interval", "bucket width (30s, 5m, 1h); default automatic"),
    ],
    "GET /v1/fields": [_Q, _FROM, _TO],
    "GET /v1/groups": [_FROM, _TO, ("limit", "groups to return, default 50")],
    "GET /v1/tail": [_Q, ("lastEventId", "resume after this entry id (or header Last-Event-ID)")],
    "GET /v1/usage": [("month", "YYYY-MM, default this month")],
    "GET /logs": [
        ("limit", "default 50"),
        ("offset", "default 0"),
        ("startDate", "ISO 8601"),
        ("endDate", "ISO 8601"),
        ("level", "DEBUG, INFO, WARN, ERROR, FATAL"),
        ("service", "service name"),
        ("search", "keyword or phrase in the message"),
    ],
    "GET /v1/applications/{id}/logs": [
        ("limit", "default 200, max 2500"),
        ("before", "ISO 8601, strictly older"),
        ("after", "ISO 8601, strictly newer"),
        ("instance_id", "one instance only"),
    ],
}


# Request bodies worth a schema: "METHOD path" -> (description, JSON schema).
BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "POST /v1/flows": (
        "the flow's name; the answer is {flowId: <name>-<8 hex digits>, name}",
        {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 41}},
        },
    ),
}
# Operations that need no credential (their security is the empty list).
PUBLIC = {"GET /health", "GET /openapi.json", "GET /", "OPTIONS /v1/logs/browser"}


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_") or "root"


def openapi_path(route_path: str) -> str:
    """A route's path as OpenAPI writes it: `{rest:path}` is `{rest}`."""
    return re.sub(r"{(\w+):\w+}", r"{\1}", route_path)


def _operations(routes: list[Any], prefix: str = "") -> list[tuple[str, str, Any]]:
    out = []
    for route in routes:
        if isinstance(route, Mount):
            continue  # static files
        if isinstance(route, Route) and route.methods:
            for method in sorted(route.methods - {"HEAD"}):
                out.append((method, prefix + route.path, route.endpoint))
    return out


def describe(routes: list[Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes."""
    paths: dict[str, dict[str, Any]] = {}
    for method, route_path, endpoint in _operations(routes):
        path = openapi_path(route_path)
        doc = (endpoint.__doc__ or "").strip().splitlines()
        summary = doc[0] if doc else f"{method} {path}"
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method.lower()}_{_slug(path)}",
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", path)
            ]
            + [
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": text,
                    "schema": {"type": "string"},
                }
                for name, text in PARAMETERS.get(f"{method} {path}", [])
            ],
            "responses": {
                "200": {"description": "success"},
                **{
                    str(status): {
                        "description": "; ".join(
                            f"{code}: {DESCRIPTIONS[code]}"
                            for code, s in STATUS_BY_CODE.items()
                            if s == status
                        )
                    }
                    for status in sorted(set(STATUS_BY_CODE.values()))
                },
            },
        }
        body = BODIES.get(f"{method} {path}")
        if body is not None:
            operation["requestBody"] = {
                "description": body[0],
                "content": {"application/json": {"schema": body[1]}},
            }
        if f"{method} {path}" in PUBLIC or getattr(endpoint, "public", False):
            operation["security"] = []
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Timberyard",
            "version": __version__,
            "description": "Self-hosted log platform: ingestion, search, tail, groups, alerts.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "code": {"type": "string", "enum": list(STATUS_BY_CODE)},
                    },
                }
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


async def openapi(request: Request) -> JSONResponse:
    """GET /openapi.json: this document."""
    return JSONResponse(describe(request.app.routes))


routes = [Route("/openapi.json", openapi, methods=["GET"])]
