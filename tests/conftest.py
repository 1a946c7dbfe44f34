"""Shared fixtures: an in-process app over one embedded ClickHouse per test session.

chDB allows one data path per process, so every in-process app of the session
shares one chDB folder and gets a database of its own.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from timberyard.app import create_app
from timberyard.services import Services
from timberyard.clock import Clock
from timberyard.settings import Settings

ADMIN_TOKEN = "adm_test_token_0123456789abcdef"

# Real PostgreSQL and Redis servers, started once per session when a test asks.
pytest_plugins = ["daemons"]


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@dataclass
class Harness:
    """An app, its services, an HTTP client, and a ready organisation/project/keys."""

    app: Any
    services: Services
    client: httpx.AsyncClient
    org: dict[str, Any]
    project: dict[str, Any]
    keys: dict[str, str]

    def auth(self, kind: str = "server") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[kind]}"}

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def flushed(self) -> None:
        await self.services.pipeline.wait_flushed()

    def new_project(self, org_id: str | None = None, **kw: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """Another project with one key of every kind."""
        meta = self.services.meta
        project = meta.create_project(org_id or self.org["id"], f"p-{uuid.uuid4().hex[:6]}", **kw)
        keys = {kind: meta.create_key(project["id"], kind)[1] for kind in ("server", "ingest", "read", "public")}
        return project, keys


@contextlib.asynccontextmanager
async def running_app(
    tmp_path: Path, chdb_path: Path, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "storage": f"chdb://{chdb_path}",
        "database": f"t_{uuid.uuid4().hex[:12]}",
        "admin_token": ADMIN_TOKEN,
        "batch_seconds": 0.05,
    }
    settings = Settings.from_env(environ={}, **{**values, **overrides})
    app = create_app(settings, clock=clock)
    services: Services = app.state.services
    async with app.router.lifespan_context(app):
        meta = services.meta
        org = meta.create_organisation("acme", "enterprise")
        project = meta.create_project(org["id"], "web")
        keys = {kind: meta.create_key(project["id"], kind)[1] for kind in ("server", "ingest", "read", "public")}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            try:
                yield Harness(app, services, client, org, project, keys)
            finally:
                with contextlib.suppress(Exception):
                    await services.pipeline.wait_flushed(5)
                    services.store.drop_database()


@pytest.fixture
async def harness(tmp_path: Path, chdb_path: Path) -> AsyncIterator[Harness]:
    async with running_app(tmp_path, chdb_path) as h:
        yield h


@pytest.fixture
def make_harness(tmp_path: Path, chdb_path: Path) -> Callable[..., Any]:
    """Build a harness with setting overrides: `async with make_harness(max_entries=5) as h`."""
    counter = iter(range(1000))

    def factory(clock: Clock | None = None, **overrides: Any) -> Any:
        return running_app(tmp_path / f"app{next(counter)}", chdb_path, clock=clock, **overrides)

    return factory
