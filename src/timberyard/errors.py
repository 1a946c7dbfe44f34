"""The error vocabulary of Timberyard and its one mapping to HTTP."""

from __future__ import annotations

from typing import Any

# code -> HTTP status; the only place where the two meet.
STATUS_BY_CODE: dict[str, int] = {
    "BAD_REQUEST": 400,
    "PARSE_ERROR": 400,
    "VALIDATION_ERROR": 400,
    "QUERY_ERROR": 400,
    "UNAUTHORIZED": 401,
    "QUOTA_EXCEEDED": 402,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
}

# One line of documentation per code; a test checks every code is described.
DESCRIPTIONS: dict[str, str] = {
    "BAD_REQUEST": "a parameter or header is malformed; the message names it",
    "PARSE_ERROR": "the body could not be parsed; `line` (and `column`) locate the fault",
    "VALIDATION_ERROR": "entries parsed but are invalid (strict mode); `issues` lists them",
    "QUERY_ERROR": "the query string `q` has a syntax or type error at `position`",
    "UNAUTHORIZED": "the API key is missing, malformed, unknown or revoked",
    "QUOTA_EXCEEDED": "the organisation's monthly quota is exhausted on a hard-limit plan",
    "FORBIDDEN": "the key lacks the scope for this request, or the origin is not allowed",
    "NOT_FOUND": "the project, key, entry or route does not exist",
    "METHOD_NOT_ALLOWED": "the route exists but not with this HTTP method",
    "CONFLICT": "the request conflicts with existing state",
    "PAYLOAD_TOO_LARGE": "the body, or an entry count, exceeds the configured limit",
    "UNSUPPORTED_MEDIA_TYPE": "the format named by `format` or Content-Type is unknown",
    "RATE_LIMITED": "too many requests; retry after `retryAfter` seconds",
    "INTERNAL": "an unexpected server error; it is logged with its request id",
    "UNAVAILABLE": "the store is unreachable and the write-ahead log is full; retry later",
}


class TimberyardError(Exception):
    """An error that the HTTP layer turns into a JSON body with one status."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.message = message
        self.extra = extra
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]

    def body(self) -> dict[str, Any]:
        """The JSON body: `error`, `code` and any extra fields."""
        return {"error": self.message, "code": self.code, **self.extra}


class ParseError(Exception):
    """A body that cannot be parsed, located by line (1-based) and column."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def to_api(self) -> TimberyardError:
        """The PARSE_ERROR the HTTP layer answers with."""
        extra: dict[str, Any] = {}
        if self.line is not None:
            extra["line"] = self.line
            text = f"Failed to parse line {self.line}: {self.message}"
        else:
            text = f"Failed to parse body: {self.message}"
        if self.column is not None:
            extra["column"] = self.column
        return TimberyardError("PARSE_ERROR", text, **extra)


class ValidationIssue(Exception):
    """One entry that parsed but is invalid; the reason says what to fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
