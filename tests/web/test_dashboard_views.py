"""Session, flow, error groups, live tail and the admin's project switcher, in a real browser."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from .conftest import Dashboard, screenshot, sign_in
from .dataset import FLOW, FLOW_STEPS, SESSION, SESSION_STEPS

pytestmark = pytest.mark.process


def tail_status(dash: Dashboard) -> int:
    """The status GET /v1/tail answers with (the stream is closed at once)."""
    with httpx.stream("GET", f"{dash.url}/v1/tail", headers=dash.headers(), timeout=10) as response:
        return response.status_code


def test_an_entry_links_to_its_session_with_frontend_and_backend_in_order(
    page: Any, dashboard: Dashboard
) -> None:
    sign_in(page, dashboard, hash="#/search?q=level:error&from=-24h&to=now")
    row = page.locator(".results-list > li.entry", has_text="payment failed")
    row.locator("a.chip-session").click()
    page.wait_for_selector(".view-session .related-list > li.entry")
    assert f"#/session/{SESSION}" in page.url
    items = page.locator(".related-list > li.entry")
    assert items.locator(".entry-message").all_inner_texts() == [m for _, _, m in SESSION_STEPS]
    assert items.locator(".entry-service").all_inner_texts() == [s for s, _, _ in SESSION_STEPS]
    assert items.locator(".entry-lead").all_inner_texts() == [
        "+0 ms",
        "+1.000 s",
        "+2.000 s",
        "+3.000 s",
    ]
    assert "4 entries from 2 services" in page.locator(".related-summary").inner_text()
    screenshot(page, "session")
    # Back to a search for the whole session.
    page.get_by_role("link", name="Search these").click()
    page.wait_for_function(
        "() => document.querySelector('#query')?.value === 'sessionId:" + SESSION + "'"
    )


def test_the_flow_view_orders_entries_by_step(page: Any, dashboard: Dashboard) -> None:
    sign_in(page, dashboard, hash=f"#/flow/{FLOW}")
    page.wait_for_selector(".view-flow .related-list > li.entry")
    items = page.locator(".related-list > li.entry")
    ordered = sorted(FLOW_STEPS)
    assert items.locator(".entry-lead").all_inner_texts() == [
        f"step {step}" for step, _, _ in ordered
    ]
    assert items.locator(".entry-message").all_inner_texts() == [m for _, m, _ in ordered]
    screenshot(page, "flow")


def test_error_groups_show_counts_trends_and_last_seen(page: Any, dashboard: Dashboard) -> None:
    available = (
        httpx.get(f"{dashboard.url}/v1/groups", headers=dashboard.headers()).status_code != 404
    )
    sign_in(page, dashboard, hash="#/groups")
    if not available:
        page.wait_for_function(
            "() => /not available/.test(document.querySelector('.groups-status').textContent)"
        )
        screenshot(page, "groups")
        return
    page.wait_for_selector(".group-row")
    rows = page.locator(".group-row")
    titles = rows.locator(".group-title").all_inner_texts()
    assert "payment failed: card declined" in titles
    assert "DB connection refused" in titles
    row = rows.filter(has_text="payment failed")
    assert row.locator("td.num").inner_text() == "1"
    assert row.locator("svg.sparkline polyline").count() == 1
    assert "min ago" in row.locator("td").nth(4).inner_text()
    assert "CardDeclined" in row.locator(".group-meta").inner_text()
    row.locator(".group-toggle").click()
    page.wait_for_selector(".group-sample:not([hidden]) [data-testid=fields-json]")
    screenshot(page, "groups")


def test_live_tail_shows_a_newly_ingested_entry(page: Any, dashboard: Dashboard) -> None:
    assert tail_status(dashboard) == 200
    sign_in(page, dashboard, hash="#/search?q=service:tailtest&from=-24h&to=now")
    page.get_by_role("button", name="Live tail").click()
    page.wait_for_function("() => document.querySelector('.tail-status')?.dataset.state === 'live'")
    assert "live=1" in page.url
    marker = f"tail marker {uuid.uuid4().hex[:8]}"
    dashboard.ingest([{"service": "tailtest", "level": "warn", "message": marker}])
    dashboard.ingest([{"service": "elsewhere", "level": "warn", "message": f"not {marker}"}])
    page.locator(".tail-rows .entry-message", has_text=marker).wait_for()
    time.sleep(0.3)
    assert page.locator(".tail-rows > li.entry:not([hidden])").count() == 1
    assert "1 received" in page.locator(".tail-stats").inner_text()
    more = [
        {"service": "tailtest", "level": level, "message": f"{level}: order {n} processed"}
        for n, level in enumerate(["info", "debug", "error", "success", "info", "warn"])
    ]
    dashboard.ingest(more)
    page.wait_for_function(
        "() => /^7 received/.test(document.querySelector('.tail-stats').textContent)"
    )
    page.get_by_role("button", name="Pause").click()
    assert page.locator(".tail-status").get_attribute("data-state") == "paused"
    page.locator(".tail-rows > li.entry", has_text=marker).locator(".entry-toggle").click()
    page.locator(".tail-detail .detail-message", has_text=marker).wait_for()
    screenshot(page, "tail")
    page.get_by_role("button", name="Live tail").click()
    # The URL changes first; the view hides the tail in the hashchange handler that follows.
    page.wait_for_function("() => !location.hash.includes('live=1')")
    page.locator(".tail").wait_for(state="hidden")
    assert page.get_by_role("button", name="Live tail").get_attribute("aria-pressed") == "false"


def test_the_admin_token_switches_organisations_and_projects(
    page: Any, dashboard: Dashboard
) -> None:
    org = dashboard.admin_post("/v1/admin/organisations", {"name": "beta", "plan": "enterprise"})
    project = dashboard.admin_post(
        f"/v1/admin/organisations/{org['id']}/projects", {"name": "shop"}
    )
    key = dashboard.new_key("server", project["id"])
    dashboard.ingest(
        [{"service": "shop", "level": "info", "message": "only in the beta shop"}], key=key
    )
    dashboard.wait_searchable("", 1, key=key)

    sign_in(page, dashboard, token=dashboard.admin)
    page.wait_for_function(f"() => location.hash.includes('project={dashboard.project}')")
    assert page.locator(".credential").inner_text() == "Admin"
    page.wait_for_selector(".results-list > li.entry")
    page.select_option("#org-select", org["id"])
    page.wait_for_function(f"() => location.hash.includes('project={project['id']}')")
    page.locator(".results-list .entry-message", has_text="only in the beta shop").wait_for()
    assert page.locator("#project-select").input_value() == project["id"]
    page.go_back()
    page.wait_for_function(f"() => location.hash.includes('project={dashboard.project}')")
    page.locator(".results-list .entry-message", has_text="clicked Pay").wait_for()
    assert page.locator("#org-select").input_value() == dashboard.organisation


def test_assets_are_served_from_the_package_with_caching_headers(dashboard: Dashboard) -> None:
    index = httpx.get(f"{dashboard.url}/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert 'src="/static/app.js"' in index.text
    script = httpx.get(f"{dashboard.url}/static/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache"
    again = httpx.get(
        f"{dashboard.url}/static/app.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    assert httpx.get(f"{dashboard.url}/static/nope.js").status_code == 404


def test_a_notification_link_opens_its_entry(page: Any, dashboard: Dashboard) -> None:
    found = httpx.get(f"{dashboard.url}/v1/logs", params={"q": '"payment failed"'},
                      headers=dashboard.headers()).json()["logs"][0]
    # The link notifications carry: {public_url}/#/entry/<id>?project=<project>
    sign_in(page, dashboard, hash=f"#/entry/{found['id']}?project={dashboard.project}")
    page.wait_for_selector(".results-list > li.entry")
    rows = page.locator(".results-list > li.entry")
    assert rows.count() == 1 and "payment failed" in rows.first.inner_text()
    assert page.locator("#query").input_value() == f"id:{found['id']}"
