"""Driver errors mean one of three things: the client's input, our bug, or an outage."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from conftest import Harness
from timberyard.storage.entries import StoreInternal, StoreRejected, StoreUnavailable
from timberyard.storage.errors import translate
from timberyard.storage.filters import PUBLIC_PARAMETERS
from timberyard.storage.reader import parse_id


def clickhouse(code: int, text: str) -> DatabaseError:
    return DatabaseError(f"Code: {code}. DB::Exception: {text}")


# (driver exception, class it becomes, parameter named in a StoreRejected)
DRIVER_ERRORS: list[tuple[BaseException, type, str | None]] = [
    (
        clickhouse(
            457,
            "Value -1 cannot be parsed as UInt64 for query parameter 'i' because"
            " it isn't parsed completely. (BAD_QUERY_PARAMETER)",
        ),
        StoreRejected,
        "id",
    ),
    (
        clickhouse(457, "Value x cannot be parsed as UInt64 for query parameter '_cid'"),
        StoreRejected,
        "cursor",
    ),
    (
        clickhouse(
            321, "Value out of range of data type Int64. (VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE)"
        ),
        StoreRejected,
        None,
    ),
    (
        clickhouse(69, "Argument at index 1 is out of bound. (ARGUMENT_OUT_OF_BOUND)"),
        StoreRejected,
        None,
    ),
    (
        clickhouse(427, "OptimizedRegularExpression: cannot compile re2. (CANNOT_COMPILE_REGEXP)"),
        StoreRejected,
        None,
    ),
    (clickhouse(62, "Syntax error: failed at position 7. (SYNTAX_ERROR)"), StoreInternal, None),
    (clickhouse(47, "Missing columns: 'nope'. (UNKNOWN_IDENTIFIER)"), StoreInternal, None),
    (
        clickhouse(456, "Substitution `x` is not set. (UNKNOWN_QUERY_PARAMETER)"),
        StoreInternal,
        None,
    ),
    (clickhouse(60, "Table t.logs does not exist. (UNKNOWN_TABLE)"), StoreInternal, None),
    (RuntimeError("chdb: something unexpected"), StoreInternal, None),
    (
        clickhouse(241, "Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)"),
        StoreUnavailable,
        None,
    ),
    (clickhouse(252, "Too many parts (300). (TOO_MANY_PARTS)"), StoreUnavailable, None),
    (
        clickhouse(159, "Timeout exceeded: elapsed 60 seconds. (TIMEOUT_EXCEEDED)"),
        StoreUnavailable,
        None,
    ),
    (
        clickhouse(202, "Too many simultaneous queries. (TOO_MANY_SIMULTANEOUS_QUERIES)"),
        StoreUnavailable,
        None,
    ),
    (clickhouse(210, "Connection reset by peer. (NETWORK_ERROR)"), StoreUnavailable, None),
    (clickhouse(242, "Table is in readonly mode. (TABLE_IS_READ_ONLY)"), StoreUnavailable, None),
    (
        clickhouse(999, "Coordination::Exception: Connection loss. (KEEPER_EXCEPTION)"),
        StoreUnavailable,
        None,
    ),
    (
        OperationalError("Error HTTPConnectionPool(host='ch', port=8123): Max retries exceeded"),
        StoreUnavailable,
        None,
    ),
    (
        DatabaseError("HTTP driver received HTTP status 503, server response: busy"),
        StoreUnavailable,
        None,
    ),
    (
        DatabaseError("HTTP driver received HTTP status 500, server response: oops"),
        StoreInternal,
        None,
    ),
    (ConnectionRefusedError(111, "Connection refused"), StoreUnavailable, None),
    (TimeoutError("timed out"), StoreUnavailable, None),
]


@pytest.mark.parametrize(("exc", "kind", "parameter"), DRIVER_ERRORS)
def test_driver_error_classes(exc: BaseException, kind: type, parameter: str | None) -> None:
    translated = translate(exc, PUBLIC_PARAMETERS)
    assert type(translated) is kind
    if kind is StoreRejected:
        assert translated.parameter == parameter
        assert (repr(parameter) in str(translated)) if parameter else "a value" in str(translated)


ID_CASES = [
    ("00000000000000ff", 255),
    ("FFFFFFFFFFFFFFFF", 2**64 - 1),
    ("-000000000000001", None),
    ("+000000000000001", None),
    ("0000_00000000001", None),
    (" 00000000000001f", None),
    ("00000000000001f ", None),
    ("0x0000000000001f", None),
    ("000000000000001", None),
    ("00000000000000001", None),
    ("not-an-id-at-all", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "value"), ID_CASES)
def test_parse_id_is_strict(text: str, value: int | None) -> None:
    assert parse_id(text) == value


def crafted(ts_ns: int, entry_id: int, order: str = "desc") -> str:
    raw = json.dumps([ts_ns, entry_id, order]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_negative_id_is_not_found_not_an_outage(harness: Harness) -> None:
    r = await harness.client.get("/v1/logs/-000000000000001", headers=harness.auth("read"))
    assert r.status_code == 404, r.text
    assert "-000000000000001" in r.json()["error"]


@pytest.mark.parametrize(
    "cursor",
    [crafted(1, -1), crafted(-1, 1), crafted(2**63, 1), crafted(1, 2**64), crafted(0, -(2**70))],
)
async def test_crafted_cursor_is_a_bad_request(harness: Harness, cursor: str) -> None:
    r = await harness.client.get(
        "/v1/logs", params={"cursor": cursor}, headers=harness.auth("read")
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "BAD_REQUEST" and "cursor" in r.json()["error"]


async def test_store_classes_answer_400_500_503(
    harness: Harness, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = harness.services.store
    answers: dict[type, tuple[int, str]] = {
        StoreRejected: (400, "BAD_REQUEST"),
        StoreInternal: (500, "INTERNAL"),
        StoreUnavailable: (503, "UNAVAILABLE"),
    }
    for kind, (status, code) in answers.items():

        def fail(*args: Any, kind: type = kind, **kw: Any) -> Any:
            raise kind("boom")

        monkeypatch.setattr(store, "get", fail)
        r = await harness.client.get("/v1/logs/00000000000000ff", headers=harness.auth("read"))
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
        if kind is StoreUnavailable:
            assert r.headers["Retry-After"] == "5"
        if kind is StoreInternal:
            incident = r.json()["error"].split()[2].rstrip(";")
            assert sum(incident in rec.getMessage() for rec in caplog.records) == 1


async def test_a_refused_bound_value_names_its_parameter(harness: Harness) -> None:
    """A real chDB refusal (negative UInt64) goes through the store's one translation."""
    store = harness.services.store
    with pytest.raises(StoreRejected) as caught:
        store.query(f"SELECT count() FROM {store.table} WHERE id = {{i:UInt64}}", {"i": -1})
    assert caught.value.parameter == "id"
    with pytest.raises(StoreInternal):
        store.query("SELEC 1")
