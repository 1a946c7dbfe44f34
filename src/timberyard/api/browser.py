"""POST /v1/logs/browser (seed 000's frontend endpoint): public keys, allowed origins, CORS."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import formats
from ..errors import TimberyardError
from ..model import BROWSER_LIMITS
from .common import JSONResponse, error_response, lookup, read_body, services
from .ingest import query_defaults, strict_param, success_body

ALLOWED_HEADERS = "Content-Type, Content-Encoding, X-Timberyard-Key"
BROWSER_FORMATS = ("json", "jsonl")


def origin_allowed(origin: str, allowed: tuple[str, ...] | list[str]) -> bool:
    """Whether an Origin matches an allowed entry: host, `*.example.com`, with or without scheme."""
    parts = urlsplit(origin)
    if not parts.scheme or not parts.hostname:
        return False
    host = parts.hostname.lower()
    port = parts.port
    for pattern in allowed:
        pattern = pattern.strip().lower().rstrip("/")
        if "://" in pattern:
            scheme, _, rest = pattern.partition("://")
            if scheme != parts.scheme:
                continue
        else:
            rest = pattern
        want_host, _, want_port = rest.partition(":")
        if want_port and (not want_port.isdigit() or int(want_port) != port):
            continue
        if not want_port and port is not None and "://" in pattern:
            continue
        if want_host.startswith("*."):
            suffix = want_host[1:]
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == want_host:
            return True
    return False


def browser_format(param: str | None) -> str | None:
    """The `format` parameter of the browser endpoint: json or jsonl (any case), or None."""
    if not param or not param.strip():
        return None
    name = formats.canonical_name(param)
    if name not in BROWSER_FORMATS:
        raise TimberyardError(
            "UNSUPPORTED_MEDIA_TYPE", f"the browser endpoint takes json or jsonl, not {param!r}"
        )
    return name


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _key(request: Request) -> str | None:
    return request.headers.get("x-timberyard-key") or request.query_params.get("key")


async def preflight(request: Request) -> Response:
    """CORS preflight: the allowed origin only, never a wildcard."""
    svc = services(request)
    origin = request.headers.get("origin", "")
    secret = _key(request)
    if secret:
        try:
            allowed = lookup(svc, secret).allowed_origins
        except TimberyardError:
            allowed = ()
    else:
        allowed = tuple(svc.meta.all_allowed_origins())
    if not origin or not origin_allowed(origin, allowed):
        return Response(status_code=403)
    return Response(
        status_code=204,
        headers={
            **_cors(origin),
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        },
    )


async def post_browser_logs(request: Request) -> Response:
    """Frontend logs with a `pk_` key from an allowed origin; stricter limits."""
    svc = services(request)
    origin = request.headers.get("origin", "")
    try:
        key = lookup(svc, _key(request))
        if key.kind != "public":
            raise TimberyardError(
                "FORBIDDEN", "the browser endpoint takes a public pk_ key; keep server keys secret"
            )
        if not key.project_active:
            raise TimberyardError("NOT_FOUND", "the key's project does not exist or is not active")
        if not origin or not origin_allowed(origin, key.allowed_origins):
            raise TimberyardError(
                "FORBIDDEN", f"origin {origin or '(none)'!r} is not allowed for this project"
            )
        client = request.client.host if request.client else "unknown"
        svc.ingestor.admit(
            key, client=client, client_per_minute=svc.settings.browser_rate_per_minute
        )
        fmt = browser_format(request.query_params.get("format"))
        body = await read_body(request, BROWSER_LIMITS.max_body_bytes)
        # sendBeacon posts JSON as text/plain: the browser endpoint reads JSON only.
        accepted = await svc.ingestor.accept_body(
            key,
            body,
            fmt or formats.detect_json(body),
            defaults=query_defaults(request),
            strict=strict_param(request),
            limits=BROWSER_LIMITS,
            surface="browser",
        )
        result = success_body(accepted, len(body), svc.clock.now_ms())
    except TimberyardError as error:
        response = error_response(error)
        if origin and error.code != "FORBIDDEN":
            response.headers.update(_cors(origin))
        return response
    return JSONResponse(result, headers=_cors(origin))


routes = [
    Route("/v1/logs/browser", post_browser_logs, methods=["POST"]),
    Route("/v1/logs/browser", preflight, methods=["OPTIONS"]),
]
