"""Hostile query parameters and keys: 400/403/404 answers, never a 5xx (issue 12: 5, 8)."""

from __future__ import annotations

import pytest

from conftest import Harness
from tail.sse import Stream
from timberyard.errors import TimberyardError
from timberyard.timerange import parse_instant

NOW = 1_764_700_000_000_000_000  # 2025-12-02

@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("²", False),
        ("١٧٠٠٠٠٠٠٠٠٠٠٠", False),
        ("9" * 330, False),
        ("9" * 19, False),
        ("9223372036855", False),  # ms just past the Int64-nanosecond range
        ("9214646400000", False),  # 2262-01-01: the first instant refused
        ("9214646399999", True),
        ("-999999999w", False),
        ("+999999999w", False),
        ("-3000w", False),  # before 1970
        ("0", True),
        ("-15m", True),
        ("now", True),
        ("2024-01-15T10:30:00Z", True),
        ("2263-01-01T00:00:00Z", False),
        ("1969-12-31T23:59:59Z", False),
        ("２０２４-01-15", False),  # fullwidth digits
    ],
)
def test_parse_instant_bounds(value: str, ok: bool) -> None:
    if ok:
        assert 0 <= parse_instant("from", value, NOW) < 9_214_646_400_000_000_000
        return
    with pytest.raises(TimberyardError) as caught:
        parse_instant("from", value, NOW)
    assert caught.value.code == "BAD_REQUEST" and "invalid from" in caught.value.message


READ_PATHS = ["/v1/logs", "/v1/histogram", "/v1/fields", "/v1/groups"]


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize(
    ("param", "value"),
    [("from", "²"), ("to", "9" * 330), ("from", "9223372036855"), ("from", "-999999999w"),
     ("to", "-999999999w"), ("from", "١٧٠٠")],
)
async def test_time_parameters_are_400s(harness: Harness, path: str, param: str, value: str) -> None:
    r = await harness.client.get(path, params={param: value}, headers=harness.auth("read"))
    assert r.status_code == 400, r.text
    assert f"invalid {param}" in r.json()["error"]


@pytest.mark.parametrize("value", ["²", "9" * 330, "-999999999w"])
async def test_tail_time_parameters_never_5xx(harness: Harness, value: str) -> None:
    stream = await Stream(harness.app, "/v1/tail", {"q": value, "after": value},
                          harness.auth("read")).open()
    try:
        assert stream.status in (200, 400), await stream.read_body()
    finally:
        await stream.close()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/logs", {"startDate": "²"}),
        ("/logs", {"endDate": "9" * 330}),
        ("/logs", {"startDate": "2263-01-01T00:00:00Z"}),
        ("/logs", {"endDate": "-999999999w"}),
        ("/v1/applications/{project}/logs", {"before": "²"}),
        ("/v1/applications/{project}/logs", {"after": "9" * 330}),
        ("/v1/applications/{project}/logs", {"after": "2262-04-11T23:47:16.854Z"}),
        ("/v1/applications/{project}/logs", {"before": "1969-01-01T00:00:00Z"}),
    ],
)
async def test_seed_time_parameters_are_400s(harness: Harness, path: str, params: dict[str, str]) -> None:
    r = await harness.client.get(path.format(project=harness.project["id"]), params=params,
                                 headers=harness.auth("read"))
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(("kind", "status"), [("public", 403), ("server", 200), ("ingest", 200), ("read", 200)])
async def test_usage_by_key_kind(harness: Harness, kind: str, status: int) -> None:
    r = await harness.client.get("/v1/usage", headers=harness.auth(kind))
    assert r.status_code == status, r.text


async def test_usage_of_a_deactivated_project_is_404(harness: Harness) -> None:
    project, keys = harness.new_project()
    harness.services.meta.update_project(project["id"], active=False)
    for kind in ("server", "read"):
        r = await harness.client.get("/v1/usage", headers={"Authorization": f"Bearer {keys[kind]}"})
        assert r.status_code == 404, r.text
        r = await harness.client.get("/v1/logs", headers={"Authorization": f"Bearer {keys[kind]}"})
        assert r.status_code == 404
