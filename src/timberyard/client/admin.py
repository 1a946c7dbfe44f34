"""`AdminClient`: the management API (organisations, projects, keys) with the admin token."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .transport import Session


def _path(*parts: str) -> str:
    return "/v1/admin/" + "/".join(quote(p, safe="") for p in parts)


def _only_set(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class AdminClient(Session):
    """Management requests; creations are not retried so that none happens twice."""

    def organisations(self) -> list[dict[str, Any]]:
        """Every organisation."""
        return list(self.request("GET", _path("organisations"))["organisations"])

    def create_organisation(self, name: str, plan: str | None = None) -> dict[str, Any]:
        """A new organisation (plan `free` unless given)."""
        body = _only_set(name=name, plan=plan)
        return dict(self.request("POST", _path("organisations"), json=body, retry=False))

    def update_organisation(
        self,
        org: str,
        plan: str | None = None,
        monthly_quota: int | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> dict[str, Any]:
        """Change an organisation's plan, monthly quota or rate limit."""
        body = _only_set(
            plan=plan, monthlyQuota=monthly_quota, rateLimitPerMinute=rate_limit_per_minute
        )
        return dict(self.request("PATCH", _path("organisations", org), json=body, retry=False))

    def projects(self, org: str) -> list[dict[str, Any]]:
        """An organisation's projects."""
        return list(self.request("GET", _path("organisations", org, "projects"))["projects"])

    def create_project(
        self,
        org: str,
        name: str,
        retention_days: int | None = None,
        allowed_origins: list[str] | None = None,
    ) -> dict[str, Any]:
        """A new project in an organisation."""
        body = _only_set(name=name, retentionDays=retention_days, allowedOrigins=allowed_origins)
        path = _path("organisations", org, "projects")
        return dict(self.request("POST", path, json=body, retry=False))

    def project(self, project: str) -> dict[str, Any]:
        """One project."""
        return dict(self.request("GET", _path("projects", project)))

    def update_project(
        self,
        project: str,
        active: bool | None = None,
        retention_days: int | None = None,
        allowed_origins: list[str] | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Activate or deactivate a project, or change its retention, origins or name."""
        body = _only_set(
            active=active, retentionDays=retention_days, allowedOrigins=allowed_origins, name=name
        )
        return dict(self.request("PATCH", _path("projects", project), json=body, retry=False))

    def delete_project(self, project: str) -> dict[str, Any]:
        """Delete a project, its keys and its entries."""
        return dict(self.request("DELETE", _path("projects", project), retry=False))

    def keys(self, project: str) -> list[dict[str, Any]]:
        """A project's keys, without their secrets."""
        return list(self.request("GET", _path("projects", project, "keys"))["keys"])

    def create_key(self, project: str, kind: str = "server") -> dict[str, Any]:
        """A new key; its secret (`key`) is in this answer only."""
        path = _path("projects", project, "keys")
        return dict(self.request("POST", path, json={"kind": kind}, retry=False))

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        """Revoke a key."""
        return dict(self.request("DELETE", _path("keys", key_id), retry=False))
