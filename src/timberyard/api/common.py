"""What every HTTP surface shares: JSON responses, body reading, key checks."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hmac
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..errors import TimberyardError
from ..keys import KEY_PATTERN, invalid_key
from ..model import Limits
from ..storage.meta import KIND_BY_PREFIX, KeyInfo

if TYPE_CHECKING:
    from ..services import Services

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class JSONResponse(Response):
    """A JSON response encoded with msgspec."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)


def services(request: Request) -> Services:
    return request.app.state.services


def shipper_limits(svc: Services) -> Limits:
    """The request limits of the shipper protocols: their clients batch more entries."""
    return svc.shipper_limits


def error_response(error: TimberyardError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def credential(request: Request) -> str | None:
    """The API key a request carries, in any of the forms shippers can send.

    `Authorization: Bearer <key>`, `X-API-Key: <key>` (the Timberlogs SDK), the
    password of HTTP Basic auth (any user name: Loki clients, rsyslog, syslog-ng)
    and `Authorization: ApiKey <key>` (Elasticsearch clients; the key itself or
    base64 of `id:key`). Two credentials that disagree are a 401.
    """
    return credential_of(request.headers)


def credential_of(headers: Mapping[str, str]) -> str | None:
    """The API key of a set of headers (or gRPC metadata), as `credential` reads it."""
    found: list[str] = []
    header = headers.get("authorization")
    if header:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        scheme = scheme.lower()
        if scheme == "bearer" and token:
            found.append(token)
        elif scheme == "basic" and token:
            password = _basic_password(token)
            if password:
                found.append(password)
        elif scheme == "apikey" and token:
            found.append(_api_key(token))
    api_key = headers.get("x-api-key")
    if api_key and api_key.strip():
        found.append(api_key.strip())
    if not found:
        return None
    if any(value != found[0] for value in found[1:]):
        raise invalid_key("the request carries two different API keys; send one")
    return found[0]


def _basic_password(token: str) -> str | None:
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon and password else None


def _api_key(token: str) -> str:
    """The key of an `ApiKey` credential: the token itself, or the key of base64 `id:key`."""
    if KEY_PATTERN.match(token):
        return token
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return token
    _, colon, key = decoded.partition(":")
    return key if colon and key else token


def lookup(svc: Services, secret: str | None) -> KeyInfo:
    """The key's grant, or 401 when it is missing, malformed, unknown or revoked."""
    return svc.keys.lookup(secret)


def authenticate(request: Request, scope: str) -> KeyInfo:
    """Check the request's key: 401 invalid, 404 inactive project, 403 missing scope.

    The admin token may read any project named by the `project` query parameter
    (the dashboard's project switcher).
    """
    svc = services(request)
    token = credential(request)
    if token and (token.startswith("adm_") or token == svc.settings.admin_token):
        return _admin_read(request, token, scope)
    return authorize(svc, token, scope)


def authorize(svc: Services, token: str | None, scope: str) -> KeyInfo:
    """A project key's grant for `scope`: 401 invalid, 404 inactive project, 403 missing scope."""
    info = lookup(svc, token)
    if not info.project_active:
        raise TimberyardError("NOT_FOUND", "the key's project does not exist or is not active")
    if scope not in info.scopes:
        kind = KIND_BY_PREFIX.get(info.kind, info.kind)
        raise TimberyardError("FORBIDDEN", f"this {kind} key does not have the {scope!r} scope")
    return info


async def json_body(request: Request, limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object body (gunzipped when so encoded), or a 400 that says why.

    The one JSON-body reader of every endpoint: bounded in size, and deep nesting or
    invalid UTF-8 is a 400 like any other malformed JSON.
    """
    raw = await read_body(request, limit or services(request).limits.max_body_bytes)
    if not raw.strip():
        return {}
    try:
        value = _decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise TimberyardError("BAD_REQUEST", f"invalid JSON body: {exc}") from None
    except RecursionError:
        raise TimberyardError("BAD_REQUEST", "invalid JSON body: nested too deeply") from None
    if not isinstance(value, dict):
        raise TimberyardError("BAD_REQUEST", "the body must be a JSON object")
    return value


Endpoint = Callable[[Request], Awaitable[Response]]


def public(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint that answers without a credential (health probes, harmless
    protocol probes); /openapi.json describes it so."""
    endpoint.public = True  # type: ignore[attr-defined]
    return endpoint


def protocol_errors(
    render: Callable[[TimberyardError], Response],
) -> Callable[[Endpoint], Endpoint]:
    """Answer a surface's errors in its protocol's own shape (OTLP, Loki, Elasticsearch...).

    `render` turns the one error vocabulary into that protocol's body and status;
    everything else stays with the app's exception handlers.
    """

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def handler(request: Request) -> Response:
            try:
                return await endpoint(request)
            except TimberyardError as error:
                return render(error)

        return handler

    return wrap


# Bodies past this size (as sent or inflated) hold one of a few permits until the
# request ends, so that many large or amplified bodies cannot take the memory together.
LARGE_BODY_BYTES = 1024 * 1024
PERMITS_KEY = "timberyard.large_bodies"
_INFLATE_CHUNK = 256 * 1024


class LargeBodies:
    """ASGI middleware: at most `permits` requests at a time hold a body past 1 MiB."""

    def __init__(self, app: Any, permits: int) -> None:
        self.app = app
        self.semaphore = asyncio.Semaphore(max(1, permits))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[bool] = []
        scope[PERMITS_KEY] = (self.semaphore, held)
        try:
            await self.app(scope, receive, send)
        finally:
            if held:
                self.semaphore.release()


async def _large(request: Request) -> None:
    """Take the request's large-body permit (once), waiting for one to be free."""
    found = request.scope.get(PERMITS_KEY)
    if found is None:
        return
    semaphore, held = found
    if not held:
        await semaphore.acquire()
        held.append(True)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped when so encoded; 413 beyond `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise TimberyardError("BAD_REQUEST", f"invalid Content-Length {declared!r}") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if size > LARGE_BODY_BYTES:
            await _large(request)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        body = await _inflate(request, body, limit, encoding)
    elif encoding not in ("", "identity"):
        raise TimberyardError(
            "UNSUPPORTED_MEDIA_TYPE",
            f"unsupported Content-Encoding {encoding!r}: send gzip, deflate or no encoding",
        )
    return body


async def _inflate(request: Request, body: bytes, limit: int, encoding: str) -> bytes:
    """Every member of a gzip body (`cat a.gz b.gz`) or a zlib/deflate stream, bounded.

    Inflates in small steps, so a small body that inflates past `limit` is refused
    with at most `limit` bytes built, and past 1 MiB the request takes a permit.
    """
    wbits = 47 if encoding != "deflate" else 15  # 47: gzip or zlib header, detected
    out: list[bytes] = []
    size = 0
    rest = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            pending = rest
            while True:
                piece = inflater.decompress(pending, _INFLATE_CHUNK)
                size += len(piece)
                if size > limit:
                    raise _too_large(limit)
                if size > LARGE_BODY_BYTES:
                    await _large(request)
                out.append(piece)
                pending = inflater.unconsumed_tail
                if inflater.eof or not pending and not piece:
                    break
            if not inflater.eof:
                raise TimberyardError("BAD_REQUEST", f"truncated {encoding} body")
            rest = inflater.unused_data
            # Another gzip member follows (shippers concatenate them); zero padding does not.
            if wbits == 15 or not rest.lstrip(b"\0"):
                break
    except zlib.error as exc:
        raise TimberyardError("BAD_REQUEST", f"invalid {encoding} body: {exc}") from None
    return b"".join(out)


def _too_large(limit: int) -> TimberyardError:
    return TimberyardError(
        "PAYLOAD_TOO_LARGE",
        f"request body exceeds {limit} bytes; split it into smaller requests",
        limit=limit,
    )


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], or a 400 that says so."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TimberyardError(
            "BAD_REQUEST", f"invalid {name} {raw!r}: expected an integer from {low} to {high}"
        ) from None
    if not low <= value <= high:
        raise TimberyardError(
            "BAD_REQUEST", f"invalid {name} {raw!r}: expected an integer from {low} to {high}"
        )
    return value


def _admin_read(request: Request, token: str, scope: str) -> KeyInfo:
    svc = services(request)
    configured = svc.settings.admin_token
    valid = configured is not None and hmac.compare_digest(configured.encode(), token.encode())
    if not valid and not svc.meta.check_admin_token(token):
        raise invalid_key()
    if scope != "read":
        raise TimberyardError("FORBIDDEN", "the admin token reads logs; ingest with a project key")
    project_id = request.query_params.get("project")
    if not project_id:
        raise TimberyardError(
            "BAD_REQUEST", "with the admin token, name the project: ?project=<id>"
        )
    project = svc.meta.get_project(project_id)
    if project is None:
        raise TimberyardError("NOT_FOUND", f"project {project_id!r} not found")
    return KeyInfo(
        key_id="admin",
        kind="admin",
        scopes=frozenset({"read"}),
        project_id=project["id"],
        org_id=project["org_id"],
        project_active=True,
        allowed_origins=tuple(project["allowed_origins"]),
    )
