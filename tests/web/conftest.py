"""Browser tests of the dashboard: a real server with real data, driven by Chromium.

One server per test session, one browser per module, one fresh browser
context (so a fresh sessionStorage) per test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from serverproc import ADMIN, Server, init

from .dataset import dataset

CHROMIUM = Path(os.environ.get("TIMBERYARD_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
VIEWPORT = {"width": 1366, "height": 860}


@dataclass
class Dashboard:
    """The running server, its credentials and the entries it holds."""

    url: str
    key: str
    project: str
    organisation: str
    admin: str = ADMIN
    entries: list[dict[str, Any]] = field(default_factory=list)

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.key}"}

    def ingest(self, entries: list[dict[str, Any]], key: str | None = None) -> None:
        response = httpx.post(
            f"{self.url}/v1/logs", json={"entries": entries}, headers=self.headers(key)
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == len(entries), response.text

    def new_key(self, kind: str, project: str | None = None) -> str:
        response = httpx.post(
            f"{self.url}/v1/admin/projects/{project or self.project}/keys",
            json={"kind": kind},
            headers=self.headers(self.admin),
        )
        assert response.status_code in (200, 201), response.text
        return str(response.json()["key"])

    def admin_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.url}{path}", json=body, headers=self.headers(self.admin))
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def wait_searchable(
        self, q: str, count: int, key: str | None = None, timeout: float = 10
    ) -> None:
        deadline = time.monotonic() + timeout
        total = None
        while time.monotonic() < deadline:
            response = httpx.get(
                f"{self.url}/v1/logs", params={"q": q, "from": "-7d"}, headers=self.headers(key)
            )
            total = response.json().get("total")
            if total == count:
                return
            time.sleep(0.1)
        raise AssertionError(f"{q!r}: {total} entries searchable, expected {count}")


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    data = tmp_path_factory.mktemp("dashboard") / "data"
    creds = init(data)
    server = Server(data, TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        dash = Dashboard(server.url, creds["key"], creds["project"], creds["organisation"])
        dash.entries = dataset(int(time.time() * 1000))
        dash.ingest(dash.entries)
        dash.wait_searchable("", len(dash.entries))
        yield dash
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is needed for the dashboard tests and is not at {CHROMIUM}: "
            "install it (Debian: apt-get install chromium) or set TIMBERYARD_CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, dashboard: Dashboard) -> Iterator[Any]:
    """A fresh tab (own sessionStorage) that fails the test on any script error."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-GB")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


def sign_in(page: Any, dash: Dashboard, token: str | None = None, hash: str = "") -> None:
    """Open the dashboard (at a hash) and sign in; waits for the first view."""
    page.goto(f"{dash.url}/{hash}")
    page.fill("#token", token or dash.key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("main .view")


def screenshot(page: Any, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
