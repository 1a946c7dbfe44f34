"""Fixtures for the compatibility read endpoints: apps with compat_read's routes mounted.

One app per test module and a new project per test keep the tests fast and
independent; test modules therefore run in a module-scoped event loop
(`pytestmark = pytest.mark.asyncio(loop_scope="module")`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from starlette.routing import Route

from conftest import Harness, running_app
from timberyard.api import compat_read
from timberyard.clock import Clock
from timberyard.storage.meta import projects

# Seed 004's example application id, created verbatim so its example requests run unchanged.
SEED004_APP = "0b7f0720-e235-4d39-9e67-601c34e8253c"
# "Now" for seed 004 tests: shortly after the seed's example entries.
SEED004_NOW = "2026-05-05T08:20:00Z"


def mount(app: Any) -> None:
    """Add compat_read's routes unless app.py already mounts them."""
    paths = {getattr(r, "path", None) for r in app.router.routes}
    # In front, so that no catch-all mount (a dashboard at "/") shadows them.
    app.router.routes[0:0] = [r for r in compat_read.routes if r.path not in paths]


def seconds(iso: str) -> float:
    """Seconds since the epoch of an ISO 8601 instant."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def get_routes(app: Any) -> list[Route]:
    """Every GET route of the app."""
    return [r for r in app.router.routes if isinstance(r, Route) and "GET" in (r.methods or ())]


async def ingest(h: Harness, entries: list[dict[str, Any]], key: str | None = None) -> None:
    """POST entries to /v1/logs and wait until they are queryable."""
    headers = {"Authorization": f"Bearer {key or h.keys['server']}"}
    for start in range(0, len(entries), 1000):
        chunk = entries[start : start + 1000]
        r = await h.client.post("/v1/logs", json={"logs": chunk}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == len(chunk), r.text
    await h.flushed()


def create_app_project(h: Harness, project_id: str, org_id: str | None = None) -> dict[str, str]:
    """A project with a chosen id (seed 004's example id) and one key of every kind."""
    meta = h.services.meta
    with meta.engine.begin() as conn:
        conn.execute(
            projects.insert().values(
                id=project_id,
                org_id=org_id or h.org["id"],
                name="seed004",
                active=True,
                retention_days=30,
                allowed_origins="[]",
                created_at=0,
            )
        )
    return {
        kind: meta.create_key(project_id, kind)[1]
        for kind in ("server", "ingest", "read", "public")
    }


async def _module_app(path: Path, chdb_path: Path, **overrides: Any) -> AsyncIterator[Harness]:
    async with running_app(path, chdb_path, **overrides) as h:
        mount(h.app)
        yield h


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def compat_app(
    tmp_path_factory: pytest.TempPathFactory, chdb_path: Path
) -> AsyncIterator[Harness]:
    """One app (wall clock) per test module, with the compat routes mounted."""
    async for h in _module_app(tmp_path_factory.mktemp("compat"), chdb_path):
        yield h


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fixed_app(
    tmp_path_factory: pytest.TempPathFactory, chdb_path: Path
) -> AsyncIterator[Harness]:
    """One app per test module whose clock stands at SEED004_NOW."""
    # A fixed clock never ages a batch, so flush without waiting (batch_seconds=0).
    clock = Clock(fixed=seconds(SEED004_NOW))
    async for h in _module_app(
        tmp_path_factory.mktemp("fixed"), chdb_path, clock=clock, batch_seconds=0
    ):
        yield h


def fresh(h: Harness) -> Harness:
    """The same app seen through a new project of its organisation, with a key of each kind."""
    project, keys = h.new_project()
    return dataclasses.replace(h, project=project, keys=keys)


@pytest_asyncio.fixture(loop_scope="module")
async def compat(compat_app: Harness) -> Harness:
    """The module's app, with a project of this test's own."""
    return fresh(compat_app)


@pytest_asyncio.fixture(loop_scope="module")
async def fixed(fixed_app: Harness) -> Harness:
    """The module's fixed-clock app, with a project of this test's own."""
    return fresh(fixed_app)


def auth(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}
