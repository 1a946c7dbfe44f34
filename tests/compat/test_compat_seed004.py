"""GET /v1/applications/{id}/logs exactly as seed 004 documents it; the clock is SEED004_NOW."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import Harness

from .conftest import SEED004_APP, SEED004_NOW, auth, create_app_project, ingest

pytestmark = pytest.mark.asyncio(loop_scope="module")

SEED_RESPONSE: dict[str, Any] = {
    "logs": [
        {
            "ts": "2026-05-05T08:14:22.115Z",
            "msg": "[web.1] Listening on 0.0.0.0:3000",
            "instance_id": "0b7f0720-e235-4d39-9e67-601c34e8253c",
        },
        {
            "ts": "2026-05-05T08:14:23.482Z",
            "msg": '[web.1] Started GET "/health" for 10.0.0.4 at 2026-05-05 08:14:23 +0000',
            "instance_id": "0b7f0720-e235-4d39-9e67-601c34e8253c",
        },
        {
            "ts": "2026-05-05T08:14:23.501Z",
            "msg": "[web.1] Completed 200 OK in 18ms",
            "instance_id": "0b7f0720-e235-4d39-9e67-601c34e8253c",
        },
    ],
    "limit": 200,
}
NOW = datetime.fromisoformat(SEED004_NOW.replace("Z", "+00:00"))


def at(**delta: float) -> str:
    """An ISO instant relative to NOW, with milliseconds."""
    moment = NOW + timedelta(**delta)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seed_entries() -> list[dict[str, Any]]:
    """The seed's example entries as POST /v1/logs takes them."""
    return [
        {"timestamp": e["ts"], "message": e["msg"], "instanceId": e["instance_id"]}
        for e in SEED_RESPONSE["logs"]
    ]


@dataclass
class App:
    """An application (a project) of the test, its keys and its logs path."""

    id: str
    keys: dict[str, str]

    @property
    def path(self) -> str:
        return f"/v1/applications/{self.id}/logs"


async def setup(h: Harness, entries: list[dict[str, Any]] | None = None, app_id: str = "") -> App:
    """The test's application (or one with the given id) holding `entries`."""
    if app_id:
        app = App(app_id, create_app_project(h, app_id))
    else:
        app = App(h.project["id"], h.keys)
    if entries:
        await ingest(h, entries, app.keys["server"])
    return app


async def fetch(h: Harness, app: App, query: str = "", kind: str = "server") -> dict[str, Any]:
    """A 200 answer, after checking the body shape and the oldest-first order."""
    r = await h.client.get(app.path + query, headers=auth(app.keys[kind]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"logs", "limit"}
    for log in body["logs"]:
        assert set(log) == {"ts", "msg", "instance_id"}
    assert [log["ts"] for log in body["logs"]] == sorted(log["ts"] for log in body["logs"]), (
        "oldest first"
    )
    return body


def msgs(body: dict[str, Any]) -> list[str]:
    """The messages of an answer, in order."""
    return [log["msg"] for log in body["logs"]]


# -- the seed's three example requests ---------------------------------------


async def test_example_request_returns_the_example_response(fixed: Harness) -> None:
    app = await setup(fixed, seed_entries(), app_id=SEED004_APP)
    r = await fixed.client.get(
        "/v1/applications/0b7f0720-e235-4d39-9e67-601c34e8253c/logs?limit=200",
        headers={"Authorization": f"Bearer {app.keys['server']}"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == SEED_RESPONSE


async def test_example_load_older_entries(fixed: Harness) -> None:
    older = [
        {"timestamp": "2026-05-05T07:14:22.114Z", "message": "older than the hour before"},
        {"timestamp": "2026-05-05T07:14:22.115Z", "message": "exactly one hour before"},
        {"timestamp": "2026-05-05T08:00:00Z", "message": "within the hour"},
        {"timestamp": "2026-05-05T08:14:22.114Z", "message": "one ms older"},
        {"timestamp": "2026-05-05T08:14:22.115400Z", "message": "same ms, sub-ms later"},
    ]
    app = await setup(fixed, seed_entries() + older)
    body = await fetch(fixed, app, "?limit=200&before=2026-05-05T08:14:22.115Z")
    assert msgs(body) == ["exactly one hour before", "within the hour", "one ms older"]
    assert body["logs"][-1]["ts"] == "2026-05-05T08:14:22.114Z" and body["limit"] == 200


async def test_example_tail_for_new_entries(fixed: Harness) -> None:
    newer = [
        {
            "timestamp": "2026-05-05T08:14:23.501700Z",
            "message": "same ms as after",
            "instanceId": "i-2",
        },
        {"timestamp": "2026-05-05T08:14:23.502Z", "message": "one ms newer", "instanceId": "i-2"},
        {"timestamp": "2026-05-05T09:30:00Z", "message": "beyond now: no upper bound with after"},
    ]
    app = await setup(fixed, seed_entries() + newer)
    body = await fetch(fixed, app, "?limit=200&after=2026-05-05T08:14:23.501Z")
    assert body["logs"] == [
        {"ts": "2026-05-05T08:14:23.502Z", "msg": "one ms newer", "instance_id": "i-2"},
        {
            "ts": "2026-05-05T09:30:00.000Z",
            "msg": "beyond now: no upper bound with after",
            "instance_id": "",
        },
    ]


# -- the default window ---------------------------------------------------------


async def test_without_before_or_after_the_last_hour_up_to_now(fixed: Harness) -> None:
    entries = [
        (at(hours=-1, milliseconds=-1), "just over an hour ago"),
        (at(hours=-1), "exactly an hour ago"),
        (at(minutes=-59), "59 minutes ago"),
        (at(), "now"),
        (at(milliseconds=1), "1 ms in the future"),
        (at(minutes=5), "5 minutes in the future"),
    ]
    app = await setup(fixed, [{"timestamp": ts, "message": m} for ts, m in entries])
    assert msgs(await fetch(fixed, app)) == ["exactly an hour ago", "59 minutes ago", "now"]


async def test_after_has_no_implicit_floor_and_before_bounds_it(fixed: Harness) -> None:
    entries = [(at(hours=-h), f"{h}h ago") for h in (30, 5, 3, 1)]
    app = await setup(fixed, [{"timestamp": ts, "message": m} for ts, m in entries])
    assert msgs(await fetch(fixed, app, f"?after={at(hours=-48)}")) == [
        "30h ago",
        "5h ago",
        "3h ago",
        "1h ago",
    ]
    assert msgs(await fetch(fixed, app, f"?after={at(hours=-48)}&before={at(hours=-3)}")) == [
        "30h ago",
        "5h ago",
    ]
    # Without `after`, `before` looks back one hour only.
    assert msgs(await fetch(fixed, app, f"?before={at(hours=-3, minutes=-30)}")) == []
    assert msgs(await fetch(fixed, app, f"?before={at(hours=-4)}")) == [
        "5h ago"
    ]  # [before - 1h, before)
    assert msgs(await fetch(fixed, app, f"?before={at(hours=-2, minutes=-30)}")) == ["3h ago"]
    # An empty window is an empty list, not an error.
    assert await fetch(fixed, app, f"?after={at(hours=-1)}&before={at(hours=-2)}") == {
        "logs": [],
        "limit": 200,
    }


async def test_empty_application_answers_an_empty_list(fixed: Harness) -> None:
    app = await setup(fixed)
    assert await fetch(fixed, app) == {"logs": [], "limit": 200}


# -- limit -----------------------------------------------------------------------


async def test_limit_default_200_keeps_the_newest(fixed: Harness) -> None:
    entries = [{"timestamp": at(seconds=-300 + i), "message": f"m{i:03d}"} for i in range(250)]
    app = await setup(fixed, entries)
    body = await fetch(fixed, app)
    assert body["limit"] == 200
    assert msgs(body) == [f"m{i:03d}" for i in range(50, 250)]


async def test_limit_picks_newest_before_and_oldest_after(fixed: Harness) -> None:
    app = await setup(
        fixed, [{"timestamp": at(minutes=-10 + i), "message": f"m{i}"} for i in range(10)]
    )
    assert msgs(await fetch(fixed, app, "?limit=3")) == ["m7", "m8", "m9"]
    assert msgs(await fetch(fixed, app, f"?limit=3&before={at(minutes=-5)}")) == ["m2", "m3", "m4"]
    assert msgs(await fetch(fixed, app, f"?limit=3&after={at(minutes=-8)}")) == ["m3", "m4", "m5"]
    assert msgs(
        await fetch(fixed, app, f"?limit=3&after={at(minutes=-8)}&before={at(minutes=-6)}")
    ) == ["m3"]


LIMIT_CASES = [
    ("1", 1),
    ("2", 2),
    ("2500", 2500),
    ("2501", 2500),
    ("1000000", 2500),
    ("9" * 30, 2500),
    ("", 200),
]


async def test_limit_maximum_is_2500_and_larger_values_are_reduced(fixed: Harness) -> None:
    app = await setup(fixed, [{"timestamp": at(seconds=-i), "message": f"m{i}"} for i in range(3)])
    for value, effective in LIMIT_CASES:
        body = await fetch(fixed, app, f"?limit={value}")
        assert body["limit"] == effective and len(body["logs"]) == min(effective, 3), value


async def test_limit_2500_returns_2500(fixed: Harness) -> None:
    app = await setup(
        fixed, [{"timestamp": at(seconds=-3000 + i), "message": f"m{i}"} for i in range(2600)]
    )
    body = await fetch(fixed, app, "?limit=5000")
    assert body["limit"] == 2500 and len(body["logs"]) == 2500
    assert body["logs"][-1]["msg"] == "m2599" and body["logs"][0]["msg"] == "m100"


# -- cursors: paging back and tailing lose nothing, even within one millisecond ---------


async def test_paging_backwards_and_tailing_collect_everything(fixed: Harness) -> None:
    # Groups of entries sharing one millisecond, so that limits split them.
    stamps = [at(minutes=-50 + i // 3, microseconds=(i % 3) * 100) for i in range(30)]
    app = await setup(
        fixed, [{"timestamp": ts, "message": f"m{i:02d}"} for i, ts in enumerate(stamps)]
    )
    expected = [f"m{i:02d}" for i in range(30)]

    collected: list[str] = []
    query = "?limit=4"
    while True:
        body = await fetch(fixed, app, query)
        if not body["logs"]:
            break
        assert len(body["logs"]) <= 4
        collected = msgs(body) + collected
        query = f"?limit=4&before={body['logs'][0]['ts']}"
    assert collected == expected

    collected = []
    query = f"?limit=5&after={at(hours=-1)}"
    while True:
        body = await fetch(fixed, app, query)
        if not body["logs"]:
            break
        collected += msgs(body)
        query = f"?limit=5&after={body['logs'][-1]['ts']}"
    assert collected == expected


async def test_one_millisecond_larger_than_the_limit_is_still_returned(fixed: Harness) -> None:
    app = await setup(fixed, [{"timestamp": at(minutes=-1), "message": f"m{i}"} for i in range(5)])
    assert len((await fetch(fixed, app, "?limit=2"))["logs"]) == 2


# -- instance_id ---------------------------------------------------------------------------


async def test_instance_id_filter_and_missing_instance(fixed: Harness) -> None:
    entries = [
        {"timestamp": at(minutes=-3), "message": "web 1", "instanceId": "web.1"},
        {"timestamp": at(minutes=-2), "message": "web 2", "instance_id": "web.2"},
        {"timestamp": at(minutes=-1), "message": "no instance"},
    ]
    app = await setup(fixed, entries)
    assert [(log["msg"], log["instance_id"]) for log in (await fetch(fixed, app))["logs"]] == [
        ("web 1", "web.1"),
        ("web 2", "web.2"),
        ("no instance", ""),
    ]
    assert msgs(await fetch(fixed, app, "?instance_id=web.2")) == ["web 2"]
    assert msgs(await fetch(fixed, app, "?instance_id=web.3")) == []
    assert msgs(await fetch(fixed, app, "?instance_id=")) == ["web 1", "web 2", "no instance"]


# -- bad input and status codes ---------------------------------------------------------------


BAD_QUERIES = [
    "?limit=0",
    "?limit=-1",
    "?limit=abc",
    "?limit=1.5",
    "?before=yesterday",
    "?after=2026-13-01T00:00:00Z",
    "?before=1746432862115",
    "?after=now",
    "?after=-15m",
    "?before=2026-05-05T08:14:22.115Z%20junk",
    "?after=1960-01-01T00:00:00Z",
]


async def test_bad_parameters_are_400(fixed: Harness) -> None:
    app = await setup(fixed)
    for query in BAD_QUERIES:
        r = await fixed.client.get(app.path + query, headers=auth(app.keys["read"]))
        assert r.status_code == 400, (query, r.text)
        body = r.json()
        assert body["code"] == "BAD_REQUEST" and body["error"].startswith("invalid "), query
        assert query[1:].split("=")[0] in body["error"], query


BAD_AUTH = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Token abc"},
    {"Authorization": "Bearer rk_" + "b" * 32},
]


async def test_missing_or_invalid_authorization_is_401(fixed: Harness) -> None:
    app = await setup(fixed)
    for headers in BAD_AUTH:
        for path in (app.path, "/v1/applications/prj_doesnotexist/logs"):
            r = await fixed.client.get(path + "?limit=abc", headers=headers)
            assert (
                r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED" and r.json()["error"]
            ), headers


async def test_only_keys_with_read_scope_have_access(fixed: Harness) -> None:
    app = await setup(fixed, seed_entries())
    for kind in ("read", "server"):
        assert len((await fetch(fixed, app, kind=kind))["logs"]) == 3
    for kind in ("ingest", "public"):
        r = await fixed.client.get(app.path, headers=auth(app.keys[kind]))
        assert (
            r.status_code == 403 and r.json()["code"] == "FORBIDDEN" and "logs" not in r.json()
        ), kind


async def test_key_of_another_application_is_403(fixed: Harness) -> None:
    app = await setup(fixed, seed_entries())
    _, other = fixed.new_project()
    r = await fixed.client.get(app.path, headers=auth(other["read"]))
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN" and "logs" not in r.json()


async def test_unknown_application_is_404(fixed: Harness) -> None:
    app = await setup(fixed)
    for app_id in [
        "prj_0000000000000000",
        "nope",
        "0b7f0720-e235-4d39-9e67-601c34e8253d",
        "%20",
        "a%2Fb",
    ]:
        path = f"/v1/applications/{app_id}/logs"
        r = await fixed.client.get(path, headers=auth(app.keys["server"]))
        assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND" and r.json()["error"], (
            app_id
        )


async def test_inactive_application_is_404(fixed: Harness) -> None:
    app = await setup(fixed, seed_entries())
    fixed.services.meta.update_project(app.id, active=False)
    fixed.services.keys.clear()
    r = await fixed.client.get(app.path, headers=auth(app.keys["server"]))
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"


async def test_status_precedence_401_then_404_then_403_then_400(fixed: Harness) -> None:
    app = await setup(fixed)
    assert (await fixed.client.get("/v1/applications/nope/logs?limit=0")).status_code == 401
    unknown = "/v1/applications/nope/logs?limit=0"
    assert (await fixed.client.get(unknown, headers=auth(app.keys["ingest"]))).status_code == 404
    assert (
        await fixed.client.get(app.path + "?limit=0", headers=auth(app.keys["ingest"]))
    ).status_code == 403
    assert (
        await fixed.client.get(app.path + "?limit=0", headers=auth(app.keys["read"]))
    ).status_code == 400
