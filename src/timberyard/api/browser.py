"""POST /v1/logs/browser (seed 000's frontend endpoint): public keys, allowed origins, CORS."""

from __future__ import annotations

import re

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


# An Origin is scheme://host[:port] and nothing else (RFC 6454): no path, user info,
# backslash or query, which a lenient URL parser would read past to another host.
_ORIGIN = re.compile(
    r"^(https?)://([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$",
    re.ASCII | re.IGNORECASE,
)


def parse_origin(origin: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a well-formed Origin header, else None."""
    match = _ORIGIN.match(origin)
    if not match:
        return None
    scheme, host, port = match.groups()
    number = int(port) if port else None
    if number is not None and not 0 < number < 65536:
        return None
    return scheme.lower(), host.lower(), number


def origin_allowed(origin: str, allowed: tuple[str, ...] | list[str]) -> bool:
    """Whether an Origin matches an allowed entry: host, `*.example.com`, with or without scheme."""
    parsed = parse_origin(origin)
    if parsed is None:
        return False
    scheme, host, port = parsed
    for pattern in allowed:
        pattern = pattern.strip().lower().rstrip("/")
        if "://" in pattern:
            want_scheme, _, rest = pattern.partition("://")
            if want_scheme != scheme:
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
    """CORS preflight: the requesting origin only, never a wildcard, and no tenant's list.

    A browser's preflight carries the URL (so a `?key=` is checked against that
    key's project) but not the X-Timberyard-Key header's value: without a key every
    well-formed origin gets the same answer, which tells nobody another tenant's
    origins; the POST itself checks the key and the origin.
    """
    svc = services(request)
    origin = request.headers.get("origin", "")
    if parse_origin(origin) is None:
        return Response(status_code=403)
    secret = _key(request)
    if secret:
        try:
            allowed = lookup(svc, secret).allowed_origins
        except TimberyardError:
            allowed = ()
        if not origin_allowed(origin, allowed):
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
    # Answers, errors included, name the origin only once it is known to be allowed.
    reflect = False
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
        reflect = True
        client = request.client.host if request.client else "unknown"
        await svc.ingestor.admit(
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
        if reflect:
            response.headers.update(_cors(origin))
        return response
    return JSONResponse(result, headers=_cors(origin))


routes = [
    Route("/v1/logs/browser", post_browser_logs, methods=["POST"]),
    Route("/v1/logs/browser", preflight, methods=["OPTIONS"]),
]
