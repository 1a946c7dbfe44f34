"""What every HTTP surface shares: JSON responses, body reading, key checks."""

from __future__ import annotations

import hmac
import re
import time
import zlib
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..errors import TimberyardError
from ..storage.meta import KIND_BY_PREFIX, KeyInfo

if TYPE_CHECKING:
    from ..app import Services

_encode = msgspec.json.Encoder().encode
KEY_PATTERN = re.compile(r"^(sk|ik|rk|pk)_[A-Za-z0-9_\-]{16,128}$")


class JSONResponse(Response):
    """A JSON response encoded with msgspec."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)


def services(request: Request) -> Services:
    return request.app.state.services


def error_response(error: TimberyardError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def invalid_key(message: str = "Invalid API key") -> TimberyardError:
    return TimberyardError("UNAUTHORIZED", message)


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class KeyCache:
    """Short-lived cache of key lookups so the hot path does not hit the database."""

    def __init__(self, ttl: float = 5.0, negative_ttl: float = 1.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.size = size
        self._items: dict[str, tuple[KeyInfo | None, float]] = {}

    def get(self, secret: str) -> tuple[bool, KeyInfo | None]:
        found = self._items.get(secret)
        if found is None or found[1] < time.monotonic():
            return False, None
        return True, found[0]

    def put(self, secret: str, info: KeyInfo | None) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        ttl = self.ttl if info is not None else self.negative_ttl
        self._items[secret] = (info, time.monotonic() + ttl)

    def clear(self) -> None:
        self._items.clear()


def lookup(svc: Services, secret: str | None) -> KeyInfo:
    """The key's grant, or 401 when it is missing, malformed, unknown or revoked."""
    if not secret or not KEY_PATTERN.match(secret) or secret[:2] not in KIND_BY_PREFIX:
        raise invalid_key()
    hit, info = svc.keys.get(secret)
    if not hit:
        info = svc.meta.lookup_key(secret)
        svc.keys.put(secret, info)
    if info is None:
        raise invalid_key()
    return info


def authenticate(request: Request, scope: str) -> KeyInfo:
    """Check the bearer key: 401 invalid, 404 inactive project, 403 missing scope.

    The admin token may read any project named by the `project` query parameter
    (the dashboard's project switcher).
    """
    svc = services(request)
    token = bearer(request)
    if token and (token.startswith("adm_") or token == svc.settings.admin_token):
        return _admin_read(request, token, scope)
    info = lookup(svc, token)
    if not info.project_active:
        raise TimberyardError("NOT_FOUND", "the key's project does not exist or is not active")
    if scope not in info.scopes:
        kind = KIND_BY_PREFIX.get(info.kind, info.kind)
        raise TimberyardError("FORBIDDEN", f"this {kind} key does not have the {scope!r} scope")
    return info


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
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        body = _inflate(body, limit, encoding)
    elif encoding not in ("", "identity"):
        raise TimberyardError(
            "UNSUPPORTED_MEDIA_TYPE",
            f"unsupported Content-Encoding {encoding!r}: send gzip, deflate or no encoding",
        )
    return body


def _inflate(body: bytes, limit: int, encoding: str) -> bytes:
    wbits = 47 if encoding != "deflate" else 15  # 47: gzip or zlib header, detected
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
        if not inflater.eof:
            raise TimberyardError("BAD_REQUEST", f"truncated {encoding} body")
    except zlib.error as exc:
        raise TimberyardError("BAD_REQUEST", f"invalid {encoding} body: {exc}") from None
    return out


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
