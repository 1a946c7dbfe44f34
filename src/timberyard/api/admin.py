"""The management API under /v1/admin, authenticated by the admin token."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ..errors import TimberyardError
from ..storage.meta import KEY_KINDS, PLANS
from .common import JSONResponse, credential, json_body, services


def require_admin(request: Request) -> None:
    """401 unless the request carries the admin token."""
    svc = services(request)
    token = credential(request)
    if not token:
        raise TimberyardError("UNAUTHORIZED", "admin token required: Authorization: Bearer <token>")
    configured = svc.settings.admin_token
    if configured and hmac.compare_digest(configured.encode(), token.encode()):
        return
    if svc.meta.check_admin_token(token):
        return
    raise TimberyardError("UNAUTHORIZED", "invalid admin token")


def _str(body: dict[str, Any], name: str, required: bool = False, limit: int = 200) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise TimberyardError("BAD_REQUEST", f"{name!r} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise TimberyardError(
            "BAD_REQUEST", f"{name!r} must be a non-empty string of at most {limit} characters"
        )
    return value.strip()


def _int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TimberyardError(
            "BAD_REQUEST", f"{name!r} must be an integer from {low} to {high}, got {value!r}"
        )
    return value


def _plan(body: dict[str, Any]) -> str | None:
    plan = body.get("plan")
    if plan is None:
        return None
    if plan not in PLANS:
        raise TimberyardError(
            "BAD_REQUEST", f"unknown plan {plan!r}: expected one of {', '.join(PLANS)}"
        )
    return str(plan)


def _origins(body: dict[str, Any]) -> list[str] | None:
    value = body.get("allowedOrigins")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TimberyardError("BAD_REQUEST", "'allowedOrigins' must be a list of origins")
    return value


def org_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "plan": row["plan"],
        "monthlyQuota": row.get("monthly_quota"),
        "rateLimitPerMinute": row.get("rate_limit_per_minute"),
        "createdAt": row["created_at"],
    }


def project_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "organisation": row["org_id"],
        "name": row["name"],
        "active": row["active"],
        "retentionDays": row["retention_days"],
        "allowedOrigins": row["allowed_origins"],
        "createdAt": row["created_at"],
    }


def key_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project": row["project_id"],
        "kind": row["kind"],
        "hint": row["hint"],
        "createdAt": row["created_at"],
        "revoked": row.get("revoked_at") is not None,
        "revokedAt": row.get("revoked_at"),
    }


def _org_or_404(request: Request, org_id: str) -> dict[str, Any]:
    found = services(request).meta.get_organisation(org_id)
    if found is None:
        raise TimberyardError("NOT_FOUND", f"organisation {org_id!r} not found")
    return found


def _project_or_404(request: Request, project_id: str) -> dict[str, Any]:
    found = services(request).meta.get_project(project_id)
    if found is None:
        raise TimberyardError("NOT_FOUND", f"project {project_id!r} not found")
    return found


async def organisations(request: Request) -> JSONResponse:
    """List organisations (GET) or create one (POST {name, plan?})."""
    require_admin(request)
    meta = services(request).meta
    if request.method == "GET":
        rows = await run_in_threadpool(meta.list_organisations)
        return JSONResponse({"organisations": [org_out(r) for r in rows]})
    body = await json_body(request)
    name = _str(body, "name", required=True) or ""
    row = await run_in_threadpool(meta.create_organisation, name, _plan(body) or "free")
    return JSONResponse(org_out(row), status_code=201)


async def organisation(request: Request) -> JSONResponse:
    """Show an organisation (GET) or change its plan, quota or rate limit (PATCH)."""
    require_admin(request)
    org_id = request.path_params["org"]
    meta = services(request).meta
    current = _org_or_404(request, org_id)
    if request.method == "GET":
        return JSONResponse(org_out(current))
    body = await json_body(request)
    values: dict[str, Any] = {}
    if (plan := _plan(body)) is not None:
        values["plan"] = plan
    if "monthlyQuota" in body:
        values["monthly_quota"] = _int(body, "monthlyQuota", 0, 10**15)
    if "rateLimitPerMinute" in body:
        values["rate_limit_per_minute"] = _int(body, "rateLimitPerMinute", 0, 10**9)
    if (name := _str(body, "name")) is not None:
        values["name"] = name
    row = await run_in_threadpool(lambda: meta.update_organisation(org_id, **values))
    services(request).keys.clear()
    services(request).limiter.forget(org_id)
    return JSONResponse(org_out(row or current))


async def org_projects(request: Request) -> JSONResponse:
    """List an organisation's projects (GET) or create one (POST {name, retentionDays?, …})."""
    require_admin(request)
    org_id = request.path_params["org"]
    meta = services(request).meta
    _org_or_404(request, org_id)
    if request.method == "GET":
        rows = await run_in_threadpool(meta.list_projects, org_id)
        return JSONResponse({"projects": [project_out(r) for r in rows]})
    body = await json_body(request)
    name = _str(body, "name", required=True)
    retention = _int(body, "retentionDays", 1, 3650) or 30
    row = await run_in_threadpool(
        lambda: meta.create_project(org_id, name or "", retention, _origins(body))
    )
    return JSONResponse(project_out(row), status_code=201)


async def project(request: Request) -> JSONResponse:
    """Show (GET), change (PATCH {active?, retentionDays?, …}) or delete a project and its data."""
    require_admin(request)
    project_id = request.path_params["project"]
    svc = services(request)
    current = _project_or_404(request, project_id)
    if request.method == "GET":
        return JSONResponse(project_out(current))
    if request.method == "DELETE":
        await run_in_threadpool(svc.meta.delete_project, project_id)
        svc.keys.clear()
        # Its keys stop at once; its entries go now (and any stragglers in retention passes).
        await svc.pipeline.wait_flushed(30)
        await run_in_threadpool(svc.retention.remove_project, project_id)
        return JSONResponse({"id": project_id, "deleted": True})
    body = await json_body(request)
    values: dict[str, Any] = {}
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise TimberyardError("BAD_REQUEST", "'active' must be true or false")
        values["active"] = body["active"]
    if "retentionDays" in body:
        values["retention_days"] = _int(body, "retentionDays", 1, 3650)
    if "allowedOrigins" in body:
        values["allowed_origins"] = _origins(body)
    if (name := _str(body, "name")) is not None:
        values["name"] = name
    row = await run_in_threadpool(lambda: svc.meta.update_project(project_id, **values))
    svc.keys.clear()
    return JSONResponse(project_out(row or current))


async def project_keys(request: Request) -> JSONResponse:
    """List a project's keys without secrets (GET) or create one (POST {kind}), shown once."""
    require_admin(request)
    project_id = request.path_params["project"]
    meta = services(request).meta
    _project_or_404(request, project_id)
    if request.method == "GET":
        rows = await run_in_threadpool(meta.list_keys, project_id)
        return JSONResponse({"keys": [key_out(r) for r in rows]})
    body = await json_body(request)
    kind = body.get("kind", "server")
    if kind not in KEY_KINDS:
        raise TimberyardError(
            "BAD_REQUEST", f"unknown key kind {kind!r}: expected one of {', '.join(KEY_KINDS)}"
        )
    row, secret = await run_in_threadpool(meta.create_key, project_id, kind)
    return JSONResponse({**key_out(row), "key": secret}, status_code=201)


async def key(request: Request) -> JSONResponse:
    """Revoke a key."""
    require_admin(request)
    key_id = request.path_params["key"]
    svc = services(request)
    found = await run_in_threadpool(svc.meta.get_key, key_id)
    if found is None:
        raise TimberyardError("NOT_FOUND", f"key {key_id!r} not found")
    await run_in_threadpool(svc.meta.revoke_key, key_id)
    svc.keys.clear()
    return JSONResponse({"id": key_id, "revoked": True})


async def stats(request: Request) -> JSONResponse:
    """GET /v1/admin/stats: storage size and pipeline state (`?optimize=true` merges first)."""
    require_admin(request)
    svc = services(request)
    if request.query_params.get("optimize") == "true":
        await svc.pipeline.wait_flushed(60)
        await run_in_threadpool(svc.store.optimize)
    storage = await run_in_threadpool(svc.store.stats)
    return JSONResponse({"storage": storage, "ingest": svc.pipeline.stats()})


async def retention_pass(request: Request) -> JSONResponse:
    """POST /v1/admin/retention: run a retention pass now; what it removed."""
    require_admin(request)
    svc = services(request)
    report = await run_in_threadpool(svc.retention.run_once)
    return JSONResponse(report.to_json())


routes = [
    Route("/v1/admin/stats", stats, methods=["GET"]),
    Route("/v1/admin/retention", retention_pass, methods=["POST"]),
    Route("/v1/admin/organisations", organisations, methods=["GET", "POST"]),
    Route("/v1/admin/organisations/{org}", organisation, methods=["GET", "PATCH"]),
    Route("/v1/admin/organisations/{org}/projects", org_projects, methods=["GET", "POST"]),
    Route("/v1/admin/projects/{project}", project, methods=["GET", "PATCH", "DELETE"]),
    Route("/v1/admin/projects/{project}/keys", project_keys, methods=["GET", "POST"]),
    Route("/v1/admin/keys/{key}", key, methods=["DELETE"]),
]
