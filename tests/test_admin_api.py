"""The management API: organisations, projects and keys behind the admin token."""

from __future__ import annotations

import sqlite3

from conftest import Harness


async def test_admin_token_required(harness: Harness) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, harness.auth()):
        r = await harness.client.get("/v1/admin/organisations", headers=headers)
        assert r.status_code == 401, headers


async def test_organisation_project_key_lifecycle(harness: Harness) -> None:
    c, admin = harness.client, harness.admin
    r = await c.post("/v1/admin/organisations", json={"name": "Globex", "plan": "pro"}, headers=admin)
    assert r.status_code == 201
    org = r.json()
    assert org["plan"] == "pro" and org["name"] == "Globex" and org["id"].startswith("org_")
    listed = (await c.get("/v1/admin/organisations", headers=admin)).json()["organisations"]
    assert org["id"] in [o["id"] for o in listed]

    r = await c.patch(f"/v1/admin/organisations/{org['id']}", json={"monthlyQuota": 5, "rateLimitPerMinute": 7}, headers=admin)
    assert r.json()["monthlyQuota"] == 5 and r.json()["rateLimitPerMinute"] == 7

    r = await c.post(f"/v1/admin/organisations/{org['id']}/projects",
                     json={"name": "shop", "retentionDays": 7, "allowedOrigins": ["https://*.example.com"]}, headers=admin)
    assert r.status_code == 201
    project = r.json()
    assert project["retentionDays"] == 7 and project["allowedOrigins"] == ["https://*.example.com"]
    assert project["active"] is True
    projects = (await c.get(f"/v1/admin/organisations/{org['id']}/projects", headers=admin)).json()["projects"]
    assert [p["id"] for p in projects] == [project["id"]]

    r = await c.post(f"/v1/admin/projects/{project['id']}/keys", json={"kind": "ingest"}, headers=admin)
    assert r.status_code == 201
    created = r.json()
    assert created["key"].startswith("ik_") and created["kind"] == "ingest"
    keys = (await c.get(f"/v1/admin/projects/{project['id']}/keys", headers=admin)).json()["keys"]
    assert [k["id"] for k in keys] == [created["id"]]
    assert "key" not in keys[0] and created["key"] not in str(keys)

    r = await c.post("/v1/logs", json={"message": "hello"}, headers={"Authorization": f"Bearer {created['key']}"})
    assert r.status_code == 200
    assert (await c.delete(f"/v1/admin/keys/{created['id']}", headers=admin)).json()["revoked"] is True
    keys = (await c.get(f"/v1/admin/projects/{project['id']}/keys", headers=admin)).json()["keys"]
    assert keys[0]["revoked"] is True


async def test_key_prefixes(harness: Harness) -> None:
    for kind, prefix in (("server", "sk_"), ("ingest", "ik_"), ("read", "rk_"), ("public", "pk_")):
        r = await harness.client.post(f"/v1/admin/projects/{harness.project['id']}/keys", json={"kind": kind}, headers=harness.admin)
        assert r.json()["key"].startswith(prefix)


async def test_keys_are_hashed_at_rest(harness: Harness) -> None:
    path = harness.services.settings.data_dir / "meta.sqlite3"
    dump = "\n".join(sqlite3.connect(path).iterdump())
    for secret in harness.keys.values():
        assert secret not in dump
        assert secret[3:] not in dump


async def test_admin_validation_errors(harness: Harness) -> None:
    c, admin = harness.client, harness.admin
    cases = [
        ("POST", "/v1/admin/organisations", {"plan": "pro"}, 400, "'name' is required"),
        ("POST", "/v1/admin/organisations", {"name": "x", "plan": "gold"}, 400, "unknown plan 'gold'"),
        ("PATCH", f"/v1/admin/organisations/{harness.org['id']}", {"monthlyQuota": -1}, 400, "monthlyQuota"),
        ("PATCH", "/v1/admin/organisations/org_missing", {"plan": "pro"}, 404, "not found"),
        ("POST", f"/v1/admin/organisations/{harness.org['id']}/projects", {"name": "x", "retentionDays": 0}, 400, "retentionDays"),
        ("POST", f"/v1/admin/organisations/{harness.org['id']}/projects", {"name": "x", "allowedOrigins": "*"}, 400, "allowedOrigins"),
        ("POST", f"/v1/admin/projects/{harness.project['id']}/keys", {"kind": "root"}, 400, "unknown key kind 'root'"),
        ("POST", "/v1/admin/projects/prj_missing/keys", {"kind": "server"}, 404, "not found"),
        ("DELETE", "/v1/admin/keys/key_missing", None, 404, "not found"),
        ("PATCH", f"/v1/admin/projects/{harness.project['id']}", {"active": "no"}, 400, "'active' must be"),
    ]
    for method, path, body, status, text in cases:
        r = await c.request(method, path, json=body, headers=admin)
        assert r.status_code == status, (path, r.text)
        assert text in r.json()["error"], (path, r.text)
    r = await c.post("/v1/admin/organisations", content=b"{not json", headers=admin)
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]


async def test_admin_token_reads_any_project(harness: Harness) -> None:
    c = harness.client
    await c.post("/v1/logs", json={"message": "visible to admin"}, headers=harness.auth())
    await harness.flushed()
    r = await c.get("/v1/logs", params={"project": harness.project["id"]}, headers=harness.admin)
    assert r.status_code == 200 and [e["message"] for e in r.json()["logs"]] == ["visible to admin"]
    assert (await c.get("/v1/logs", headers=harness.admin)).status_code == 400
    assert (await c.get("/v1/logs", params={"project": "prj_nope"}, headers=harness.admin)).status_code == 404
    r = await c.post("/v1/logs", json={"message": "x"}, headers=harness.admin)
    assert r.status_code == 403 and "project key" in r.json()["error"]
    r = await c.get("/v1/logs", params={"project": harness.project["id"]}, headers={"Authorization": "Bearer adm_wrong"})
    assert r.status_code == 401
