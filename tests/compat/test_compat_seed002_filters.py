"""GET /logs as seed 002 documents it: level, service, search, the entry shape and keys."""

from __future__ import annotations

import pytest

from conftest import Harness

from .conftest import auth, ingest
from .seed002 import FORBIDDEN, UNAUTHORIZED, bad, get, messages, ok

pytestmark = pytest.mark.asyncio(loop_scope="module")

# -- level, service, search ---------------------------------------------------

LEVELLED = [
    (lv, f"{lv} entry") for lv in ("trace", "debug", "info", "success", "warn", "error", "fatal")
]


LEVEL_CASES: list[tuple[str, list[str]]] = [
    ("DEBUG", ["debug entry", "trace entry"]),
    ("INFO", ["success entry", "info entry"]),
    ("WARN", ["warn entry"]),
    ("ERROR", ["error entry"]),
    ("FATAL", ["fatal entry"]),
    ("error", ["error entry"]),
    ("Warn", ["warn entry"]),
    ("warning", ["warn entry"]),
    ("ERROR,FATAL", ["fatal entry", "error entry"]),
    ("", [m for _, m in reversed(LEVELLED)]),
]


async def test_level_filter(compat: Harness) -> None:
    await ingest(
        compat,
        [
            {"level": lv, "message": m, "timestamp": 1_700_000_000_000 + i}
            for i, (lv, m) in enumerate(LEVELLED)
        ],
    )
    for level, expected in LEVEL_CASES:
        assert messages(await ok(compat, level=level)) == expected, level


async def test_levels_are_shown_in_the_seeds_upper_case(compat: Harness) -> None:
    await ingest(compat, [{"level": lv, "message": m} for lv, m in LEVELLED])
    shown = {log["message"]: log["level"] for log in (await ok(compat))["logs"]}
    assert shown == {
        "trace entry": "DEBUG",
        "debug entry": "DEBUG",
        "info entry": "INFO",
        "success entry": "INFO",
        "warn entry": "WARN",
        "error entry": "ERROR",
        "fatal entry": "FATAL",
    }


async def test_unknown_level_is_400(compat: Harness) -> None:
    for level in ["VERBOSE_X", "critical-ish", "5", "WARN,NOPE"]:
        r = await get(compat, level=level)
        wrong = level.split(",")[-1]
        bad(
            r,
            f"Invalid value {wrong!r} for 'level'."
            " Please use one of DEBUG, INFO, WARN, ERROR, FATAL.",
        )


async def test_service_filter_is_exact(compat: Harness) -> None:
    await ingest(
        compat,
        [
            {"service": "user-service", "message": "a"},
            {"source": "user-service-2", "message": "b"},
            {"fields": {"service": "user-service"}, "message": "c"},
            {"message": "d"},
        ],
    )
    assert sorted(messages(await ok(compat, service="user-service"))) == ["a", "c"]
    assert messages(await ok(compat, service="payment-gateway")) == []


SEARCH_CASES: list[tuple[str, list[str]]] = [
    ("timeout", ["Upstream TIMEOUT after 30s", "db timeout"]),
    ("upstream timeout", ["Upstream TIMEOUT after 30s"]),
    ("100%", ["cpu at 100% (hot)"]),
    ("_", ["snake_case here"]),
    ("o'brien", ["user O'Brien logged in"]),
    ("ÄRGER", ["großer ärger"]),
    ("nothing like it", []),
]


async def test_search_is_a_case_insensitive_substring(compat: Harness) -> None:
    texts = [
        "db timeout",
        "Upstream TIMEOUT after 30s",
        "cpu at 100% (hot)",
        "snake_case here",
        "user O'Brien logged in",
        "großer ärger",
        "all good",
    ]
    await ingest(
        compat, [{"message": t, "timestamp": 1_700_000_000_000 + i} for i, t in enumerate(texts)]
    )
    for term, expected in SEARCH_CASES:
        assert messages(await ok(compat, search=term)) == expected, term


async def test_filters_combine(compat: Harness) -> None:
    await ingest(
        compat,
        [
            {
                "timestamp": "2023-10-27T10:00:00Z",
                "level": "error",
                "service": "api",
                "message": "payment failed",
            },
            {
                "timestamp": "2023-10-27T10:00:01Z",
                "level": "error",
                "service": "api",
                "message": "login failed",
            },
            {
                "timestamp": "2023-10-27T10:00:02Z",
                "level": "info",
                "service": "api",
                "message": "payment ok",
            },
            {
                "timestamp": "2023-10-26T10:00:00Z",
                "level": "error",
                "service": "api",
                "message": "payment failed early",
            },
        ],
    )
    data = await ok(
        compat, level="error", service="api", search="PAYMENT", startDate="2023-10-27T00:00:00Z"
    )
    assert messages(data) == ["payment failed"]
    assert data["pagination"]["total"] == 1


# -- the entry shape ------------------------------------------------------------


async def test_entry_shape_without_details_or_service(compat: Harness) -> None:
    await ingest(
        compat,
        [
            {"timestamp": "2024-01-15T10:30:00.123Z", "message": "with ms"},
            {
                "timestamp": "2024-01-15T10:30:01.000456Z",
                "message": "sub-ms only",
                "data": {"a": [1, {"b": None}]},
            },
            {
                "timestamp": 1705314602000,
                "message": "whole second",
                "level": "warning",
                "service": "svc",
                "details": {"user_id": 12345},
                "userId": "u-1",
            },
        ],
    )
    logs = (await ok(compat))["logs"]
    assert logs == [
        {
            "timestamp": "2024-01-15T10:30:02Z",
            "level": "WARN",
            "service": "svc",
            "message": "whole second",
            "details": {"user_id": 12345},
        },
        {
            "timestamp": "2024-01-15T10:30:01Z",
            "level": "INFO",
            "service": "",
            "message": "sub-ms only",
            "details": {"a": [1, {"b": None}]},
        },
        {
            "timestamp": "2024-01-15T10:30:00.123Z",
            "level": "INFO",
            "service": "",
            "message": "with ms",
            "details": {},
        },
    ]


# -- keys ---------------------------------------------------------------------------


BAD_AUTH: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer not-a-key"},
    {"Authorization": "Bearer rk_" + "a" * 32},
    {"Authorization": "Bearer xx_" + "a" * 32},
]


async def test_missing_or_invalid_key_is_401(compat: Harness) -> None:
    for headers in BAD_AUTH:
        r = await compat.client.get("/logs", headers=headers, params={"startDate": "bad"})
        assert r.status_code == 401 and r.json() == UNAUTHORIZED, headers


async def test_revoked_key_is_401(compat: Harness) -> None:
    meta = compat.services.meta
    record, secret = meta.create_key(compat.project["id"], "read")
    assert (await compat.client.get("/logs", headers=auth(secret))).status_code == 200
    meta.revoke_key(record["id"])
    compat.services.keys.clear()
    r = await compat.client.get("/logs", headers=auth(secret))
    assert r.status_code == 401 and r.json() == UNAUTHORIZED


async def test_only_keys_with_read_scope_read(compat: Harness) -> None:
    for kind in ("ingest", "public"):
        r = await get(compat, kind)
        assert r.status_code == 403 and r.json() == FORBIDDEN, kind
    for kind in ("read", "server"):
        assert (await get(compat, kind)).status_code == 200, kind


async def test_inactive_project_is_403(compat: Harness) -> None:
    project, keys = compat.new_project()
    compat.services.meta.update_project(project["id"], active=False)
    r = await compat.client.get("/logs", headers=auth(keys["read"]))
    assert r.status_code == 403 and r.json() == FORBIDDEN


async def test_details_show_debounce_counts_like_native_fields(compat: Harness) -> None:
    event = {
        "message": "Payment failed",
        "level": "error",
        "useDebounce": True,
        "details": {"a": 1},
    }
    for _ in range(2):
        r = await compat.client.post("/api/v1/tracking/log", json=event, headers=compat.auth())
        assert r.status_code == 200, r.text
    await compat.flushed()
    [log] = (await ok(compat))["logs"]
    native = (await compat.client.get("/v1/logs", headers=compat.auth("read"))).json()["logs"][0]
    assert log["details"] == native["fields"]
    assert log["details"]["a"] == 1 and log["details"]["count"] == 2


async def test_repeated_level_parameters_combine(compat: Harness) -> None:
    await ingest(
        compat,
        [
            {"level": lv, "message": m, "timestamp": 1_700_000_000_000 + i}
            for i, (lv, m) in enumerate(LEVELLED)
        ],
    )
    r = await compat.client.get("/logs?level=ERROR&level=warn", headers=compat.auth("read"))
    assert [log["message"] for log in r.json()["data"]["logs"]] == ["error entry", "warn entry"]


async def test_admin_token_reads_a_named_project(compat: Harness) -> None:
    await ingest(compat, [{"message": "visible to the admin"}])
    r = await compat.client.get(
        "/logs", params={"project": compat.project["id"]}, headers=compat.admin
    )
    assert r.status_code == 200 and messages(r.json()["data"]) == ["visible to the admin"]
    r = await compat.client.get("/logs", headers=compat.admin)
    assert (
        r.status_code == 400 and r.json()["status"] == "error" and "project" in r.json()["message"]
    )
