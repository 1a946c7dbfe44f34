"""No key reads another organisation's entries, nor another project's, on any read endpoint."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass

import pytest
import pytest_asyncio

from conftest import Harness

from .conftest import auth, get_routes, ingest

pytestmark = pytest.mark.asyncio(loop_scope="module")

PER_PROJECT = 5
SHARED_SESSION = "sess-shared-by-all"
SHARED_FLOW = "flow-shared-by-all"
# Read endpoints this test must find mounted; others are swept generically.
KNOWN = ("/v1/logs", "/v1/logs/{id}", "/logs", "/v1/applications/{id}/logs")
# Not read with a project key (admin token, health, dashboard) or a stream that never ends.
SKIP = re.compile(r"^(/v1/admin|/health$|/$|/static|/openapi|/docs)|tail|stream")


@dataclass
class Tenant:
    """One project, its organisation, its keys, and the marker in all its entries."""

    name: str
    org_id: str
    project_id: str
    keys: dict[str, str]
    marker: str
    entry_id: str = ""


async def populate(h: Harness, tenant: Tenant) -> None:
    """Ingest the tenant's entries and remember one entry id."""
    now_ms = int(time.time() * 1000)
    m = tenant.marker
    entries = [
        {
            "timestamp": now_ms - 1000 * (i + 1),
            "level": "error",
            "message": f"{m} happened {i}",
            "service": f"{m}-svc",
            "instanceId": f"{m}-inst",
            "sessionId": SHARED_SESSION,
            "flowId": SHARED_FLOW,
            "stepIndex": i,
            "tags": [m],
            "fields": {m: m, "kind": m},
            "errorName": f"{m}Error",
        }
        for i in range(PER_PROJECT)
    ]
    await ingest(h, entries, tenant.keys["server"])
    r = await h.client.get("/v1/logs", params={"limit": 1}, headers=auth(tenant.keys["read"]))
    tenant.entry_id = r.json()["logs"][0]["id"]


@pytest_asyncio.fixture(loop_scope="module")
async def tenants(compat: Harness) -> tuple[Tenant, Tenant, Tenant]:
    """alpha and alpha2 (two projects of one organisation) and bravo (another organisation)."""
    h = compat
    meta = h.services.meta
    alpha = Tenant("alpha", h.org["id"], h.project["id"], h.keys, f"alpha{uuid.uuid4().hex[:10]}")
    project2, keys2 = h.new_project()
    alpha2 = Tenant(
        "alpha2", h.org["id"], project2["id"], keys2, f"alphatwo{uuid.uuid4().hex[:10]}"
    )
    org_b = meta.create_organisation("bravo", "enterprise")
    project_b, keys_b = h.new_project(org_b["id"])
    bravo = Tenant("bravo", org_b["id"], project_b["id"], keys_b, f"bravo{uuid.uuid4().hex[:10]}")
    for tenant in (alpha, alpha2, bravo):
        await populate(h, tenant)
    return alpha, alpha2, bravo


def others(tenants: tuple[Tenant, ...], me: Tenant) -> list[Tenant]:
    """The tenants other than me."""
    return [t for t in tenants if t is not me]


def assert_no_leak(text: str, me: Tenant, strangers: list[Tenant], where: str) -> None:
    """Assert that no stranger's marker is in a response."""
    for other in strangers:
        assert other.marker not in text, f"{me.name}'s key saw {other.name}'s entries on {where}"


async def test_known_read_endpoints_are_mounted(compat_app: Harness) -> None:
    paths = {r.path for r in get_routes(compat_app.app)}
    assert set(KNOWN) <= paths, sorted(paths)


@pytest.mark.parametrize("kind", ["read", "server"])
async def test_each_key_sees_only_its_own_project(
    compat: Harness, tenants: tuple[Tenant, Tenant, Tenant], kind: str
) -> None:
    h = compat
    for me in tenants:
        key = auth(me.keys[kind])
        strangers = others(tenants, me)

        r = await h.client.get("/v1/logs", params={"limit": 1000}, headers=key)
        assert r.status_code == 200 and r.json()["total"] == PER_PROJECT
        assert {e["service"] for e in r.json()["logs"]} == {f"{me.marker}-svc"}
        assert_no_leak(r.text, me, strangers, "GET /v1/logs")
        for other in strangers:
            r = await h.client.get("/v1/logs", params={"q": other.marker}, headers=key)
            assert r.status_code == 200 and r.json()["logs"] == [] and r.json()["total"] == 0

        assert (await h.client.get(f"/v1/logs/{me.entry_id}", headers=key)).status_code == 200
        for other in strangers:
            r = await h.client.get(f"/v1/logs/{other.entry_id}", headers=key)
            assert r.status_code == 404, r.text
            assert_no_leak(r.text, me, strangers, "GET /v1/logs/{id}")

        r = await h.client.get("/logs", params={"limit": 1000}, headers=key)
        assert r.status_code == 200 and r.json()["data"]["pagination"]["total"] == PER_PROJECT
        assert_no_leak(r.text, me, strangers, "GET /logs")
        for other in strangers:
            r = await h.client.get("/logs", params={"search": other.marker}, headers=key)
            assert r.json()["data"] == {
                "logs": [],
                "pagination": {"total": 0, "limit": 50, "offset": 0, "nextOffset": None},
            }

        r = await h.client.get(f"/v1/applications/{me.project_id}/logs", headers=key)
        assert r.status_code == 200 and len(r.json()["logs"]) == PER_PROJECT
        assert_no_leak(r.text, me, strangers, "GET /v1/applications/{id}/logs")
        for other in strangers:
            r = await h.client.get(f"/v1/applications/{other.project_id}/logs", headers=key)
            # Any other project, in this organisation or another: 403 (SPEC §3.4), no entries.
            assert r.status_code == 403, r.text
            assert "logs" not in r.json()
            assert_no_leak(r.text, me, strangers, "GET /v1/applications/{other}/logs")


async def test_no_get_endpoint_leaks_across_projects(
    compat: Harness, tenants: tuple[Tenant, Tenant, Tenant]
) -> None:
    """Every GET route, path parameters set to every tenant's ids: never a stranger's marker."""
    h = compat
    routes = [r for r in get_routes(h.app) if not SKIP.search(r.path)]
    assert {r.path for r in routes} >= set(KNOWN)
    own_seen: set[str] = set()
    for me in tenants:
        strangers = others(tenants, me)
        candidates = [SHARED_SESSION, SHARED_FLOW] + [
            value for t in tenants for value in (t.entry_id, t.project_id, t.org_id)
        ]
        for route in routes:
            names = list(route.param_convertors)
            values = candidates if names else [""]
            for value in values:
                path = route.path
                for name in names:
                    path = re.sub(r"\{" + name + r"(:[^}]*)?\}", value, path)
                for params in ({}, {"from": "-2h", "to": "now", "limit": "1000"}):
                    r = await asyncio.wait_for(
                        h.client.get(path, params=params, headers=auth(me.keys["read"])), 20
                    )
                    assert r.status_code < 500, (path, r.status_code, r.text)
                    assert_no_leak(r.text, me, strangers, f"GET {path}")
                    if me.marker in r.text:
                        own_seen.add(route.path)
    # The sweep must have reached real data on the endpoints that return entries.
    assert own_seen >= set(KNOWN), own_seen
