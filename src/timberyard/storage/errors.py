"""What a failure of the entry store means: the client's input, our bug, or an outage.

Driver errors are translated here once (`raise translate(exc) from exc`); the HTTP
layer answers StoreRejected with 400, StoreInternal with 500 and StoreUnavailable
with 503 and Retry-After.
"""

from __future__ import annotations

import logging
import re

from clickhouse_connect.driver.exceptions import OperationalError


class StoreError(Exception):
    """The entry store could not answer a request."""


class StoreUnavailable(StoreError):
    """The entry store cannot be reached or is overloaded; retrying later may work."""


class StoreRejected(StoreError):
    """The store refused a value that came from the client; `parameter` names it if known."""

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class StoreInternal(StoreError):
    """The store refused a statement that we built wrongly: a bug of ours."""


# ClickHouse error codes whose cause is a value of the request (out of a type's range,
# unparsable as its type, too large an array or string, a bad regular expression).
REJECTED_CODES = frozenset({6, 27, 38, 41, 53, 69, 70, 72, 128, 131, 321, 407, 427, 457})
# Codes of an outage or an overload: network, timeouts, memory, too many parts or
# queries, read-only replicas, Keeper, quotas and per-query limits.
UNAVAILABLE_CODES = frozenset(
    {
        159, 160, 164, 173, 201, 202, 203, 209, 210, 225, 236, 241, 242, 243,
        252, 279, 290, 319, 394, 396, 425, 439, 516, 999,
    }
)  # fmt: skip

log = logging.getLogger(__name__)
_CODE = re.compile(r"Code: (\d+)")
_PARAMETER = re.compile(r"query parameter '(\w+)'")
_OUTAGE_TYPES = (OSError, TimeoutError, ConnectionError, OperationalError)
# A proxy or load balancer in front of ClickHouse answering for it (no ClickHouse code).
_GATEWAY = re.compile(r"HTTP status (429|502|503|504)\b")


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code an exception carries, if any."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    found = _CODE.search(str(exc))
    return int(found.group(1)) if found else None


def translate(exc: BaseException, parameters: dict[str, str] | None = None) -> StoreError:
    """The StoreError that a driver exception means; `parameters` maps bound parameter
    names to the request parameters they came from."""
    if isinstance(exc, StoreError):
        return exc
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    code = error_code(exc)
    if code in REJECTED_CODES:
        found = _PARAMETER.search(str(exc))
        bound = found.group(1) if found else None
        name = (parameters or {}).get(bound or "", None)
        # The driver's text names our bound parameters and SQL: it goes to the log only.
        log.info("entry store refused a value (%s): %s", name or bound, detail[:300])
        if name:
            return StoreRejected(
                f"invalid {name!r}: the store cannot represent its value; send a value in range",
                name,
            )
        return StoreRejected(
            "a value of this request is outside what the store can represent;"
            " check the parameters' ranges"
        )
    if code in UNAVAILABLE_CODES or (
        code is None and (isinstance(exc, _OUTAGE_TYPES) or _GATEWAY.search(str(exc)))
    ):
        return StoreUnavailable(detail)
    return StoreInternal(detail)
