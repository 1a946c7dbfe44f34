"""The search view in a browser: sign-in, queries, errors, facets, entries, histogram, links."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import Dashboard, screenshot, sign_in
from .dataset import PAY_FIELDS

pytestmark = pytest.mark.process


def hash_params(url: str) -> dict[str, str]:
    """The query parameters of the URL's hash route (#/view?a=b)."""
    fragment = urlsplit(url).fragment
    query = fragment.split("?", 1)[1] if "?" in fragment else ""
    return {k: v[0] for k, v in parse_qs(query).items()}


def run_query(page: Any, q: str) -> None:
    page.fill("#query", q)
    page.press("#query", "Enter")


def result_rows(page: Any) -> Any:
    return page.locator(".results-list > li.entry")


def wait_results(page: Any, count: int) -> None:
    label = f"{count} {'entry' if count == 1 else 'entries'}"
    page.wait_for_function(
        "label => document.querySelector('.results-head strong')?.textContent === label"
        " && !document.querySelector('.results[aria-busy]')",
        arg=label,
    )


def wait_query(page: Any, q: str) -> None:
    """Wait until the query box shows q (it follows the URL's hash asynchronously)."""
    page.wait_for_function("q => document.querySelector('#query').value === q", arg=q)


def test_sign_in_rejects_bad_keys_and_keeps_the_good_one_in_session_storage(
    page: Any, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/")
    problem = page.locator("#signin-problem")
    page.fill("#token", "sk_" + "x" * 32)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(
        "() => /not valid/.test(document.querySelector('#signin-problem').textContent)"
    )
    page.fill("#token", dashboard.new_key("ingest"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(
        "() => /cannot read logs/.test(document.querySelector('#signin-problem').textContent)"
    )
    assert "read key" in problem.inner_text()

    read_key = dashboard.new_key("read")
    page.fill("#token", read_key)
    page.get_by_role("button", name="Sign in").click()
    wait_results(page, len(dashboard.entries))
    stored = json.loads(page.evaluate("sessionStorage.getItem('timberyard.auth')"))
    assert stored == {"token": read_key, "kind": "key"}
    assert page.evaluate("localStorage.length") == 0
    assert read_key not in page.url
    assert "Read key" in page.locator(".credential").inner_text()


def test_search_returns_the_matching_rows_and_loads_only_local_assets(
    page: Any, dashboard: Dashboard
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, dashboard)
    wait_results(page, len(dashboard.entries))
    page.wait_for_selector(".facet-filter")
    page.wait_for_selector("svg.histogram-chart rect.bar")
    screenshot(page, "search")

    run_query(page, "level:error")
    wait_results(page, 2)
    assert result_rows(page).evaluate_all("rows => rows.map(r => r.dataset.level)") == [
        "error",
        "error",
    ]
    messages = page.locator(".results-list .entry-message").all_inner_texts()
    assert messages == ["DB connection refused", "payment failed: card declined"]  # newest first
    assert hash_params(page.url)["q"] == "level:error"

    run_query(page, '"heartbeat ok" host:node-2')
    wait_results(page, 10)
    assert set(page.locator(".results-list .entry-message").all_inner_texts()) == {"heartbeat ok"}
    assert all(url.startswith(dashboard.url) for url in requested), requested


def test_a_syntax_error_is_marked_where_it_is(page: Any, dashboard: Dashboard) -> None:
    sign_in(page, dashboard)
    query = "service:api AND level:= x"
    run_query(page, query)
    error = page.locator("#query-error")
    error.wait_for(state="visible")
    assert 'unexpected "="' in error.inner_text()
    assert page.locator(".query-mark").inner_text() == "="
    assert error.get_attribute("data-position") == str(query.index("="))
    assert page.get_attribute("#query", "aria-invalid") == "true"
    # The mark sits under the "=" of the input: same left edge within a pixel or two.
    mark = page.locator(".query-mark").bounding_box()
    prefix_width = page.evaluate(
        """q => { const c = document.createElement('canvas').getContext('2d');
                  c.font = getComputedStyle(document.querySelector('#query')).font;
                  return c.measureText(q).width; }""",
        query[: query.index("=")],
    )
    field = page.locator("#query").bounding_box()
    assert abs(mark["x"] - (field["x"] + 11 + prefix_width)) < 3
    assert "Fix the query" in page.locator(".results-head").inner_text()
    page.locator("#query").press("End")
    page.keyboard.type("x")
    assert error.is_hidden()


def test_clicking_a_field_value_adds_a_quoted_filter(page: Any, dashboard: Dashboard) -> None:
    sign_in(page, dashboard)
    page.locator('.facet-filter[data-field="service"][data-value="billing worker"]').click()
    wait_results(page, 3)
    assert page.input_value("#query") == 'service:"billing worker"'
    assert set(page.locator(".results-list .entry-service").all_inner_texts()) == {"billing worker"}
    assert hash_params(page.url)["q"] == 'service:"billing worker"'

    # Excluding a value narrows with -field:value.
    page.locator('.facet-value:has(.facet-filter[data-field="tag"]) .exclude').first.click()
    wait_results(page, 0)
    assert page.input_value("#query") == 'service:"billing worker" -tag:billing'


def test_an_expanded_entry_shows_its_fields_as_json_and_filters_on_them(
    page: Any, dashboard: Dashboard
) -> None:
    sign_in(page, dashboard, hash="#/search?q=errorName:CardDeclined&from=-24h&to=now")
    wait_results(page, 1)
    toggle = page.locator(".results-list .entry-toggle").first
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    fields = page.locator('[data-testid="fields-json"]')
    fields.wait_for(state="visible")
    assert json.loads(fields.inner_text()) == PAY_FIELDS
    detail = page.locator(".entry-detail").first
    assert "payment failed: card declined" in detail.locator(".detail-message").inner_text()
    assert "req-91" in detail.locator(".attributes").inner_text()
    screenshot(page, "expanded-entry")

    fields.get_by_role("button", name='"/api/pay"').click()
    # The filter reaches the query box through the URL (a hashchange): wait for it.
    wait_query(page, "errorName:CardDeclined fields.route:/api/pay")
    wait_results(page, 1)
    page.locator(".results-list .entry-toggle").first.click()
    page.locator('[data-testid="fields-json"]').get_by_role("button", name='"pro"').click()
    page.wait_for_function(
        "() => document.querySelector('#query').value.endsWith('fields.customer.plan:pro')"
    )
    wait_results(page, 1)


def test_the_histogram_has_bars_and_dragging_zooms_the_range(
    page: Any, dashboard: Dashboard
) -> None:
    sign_in(page, dashboard, hash="#/search?from=-1h&to=now")
    wait_results(page, len(dashboard.entries) - 3)  # the billing entries are older than an hour
    page.wait_for_selector("svg.histogram-chart rect.bar")
    chart = page.locator("svg.histogram-chart")
    assert chart.locator("rect.bar").count() > 10
    before = (int(chart.get_attribute("data-from")), int(chart.get_attribute("data-to")))
    box = page.locator("svg.histogram-chart .overlay").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_function("() => !location.hash.includes('from=-1h')")
    params = hash_params(page.url)
    start = datetime.fromisoformat(params["from"].replace("Z", "+00:00")).timestamp() * 1000
    end = datetime.fromisoformat(params["to"].replace("Z", "+00:00")).timestamp() * 1000
    span = before[1] - before[0]
    assert abs(start - (before[0] + 0.25 * span)) < span * 0.02
    assert abs(end - (before[0] + 0.6 * span)) < span * 0.02
    # The range picker follows the URL once the hashchange is handled.
    page.wait_for_function("() => document.querySelector('.range-preset').value === 'custom'")
    page.wait_for_function(
        "from => Number(document.querySelector('svg.histogram-chart')?.dataset.from) >= from",
        arg=int(start) - 60_000,
    )
    page.wait_for_function(
        "() => /^\\d+ entr/.test(document.querySelector('.results-head').textContent)"
    )
    # Zoom out widens the range again.
    page.get_by_role("button", name="Zoom out").click()
    page.wait_for_function("to => !location.hash.includes(to)", arg=params["to"])


def test_a_shared_link_opens_the_same_query_and_range(
    page: Any, browser: Any, dashboard: Dashboard
) -> None:
    sign_in(page, dashboard)
    run_query(page, "service:api level:>=warn")
    wait_results(page, 2)
    page.select_option(".range-preset", "1h")
    page.wait_for_function("() => location.hash.includes('from=-1h')")
    wait_results(page, 2)
    link = page.url

    other = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="UTC")
    try:
        tab = other.new_page()
        sign_in(tab, dashboard, hash="#" + urlsplit(link).fragment)
        wait_results(tab, 2)
        assert tab.input_value("#query") == "service:api level:>=warn"
        assert tab.locator(".range-preset").input_value() == "1h"
        assert hash_params(tab.url) == hash_params(link)
    finally:
        other.close()


def test_the_keyboard_reaches_everything(page: Any, dashboard: Dashboard) -> None:
    sign_in(page, dashboard)
    wait_results(page, len(dashboard.entries))
    page.locator("h2").first.click()  # focus nowhere in particular
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "query"
    page.keyboard.type("clicked")
    page.keyboard.press("Enter")
    wait_results(page, 1)
    # Tab walks from the query to the search button, then the range picker, with a visible ring.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Search"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('range-preset')")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    # An entry expands from the keyboard.
    page.locator(".results-list .entry-toggle").first.focus()
    page.keyboard.press("Enter")
    assert (
        page.locator(".results-list .entry-toggle").first.get_attribute("aria-expanded") == "true"
    )
    # "/" from another view comes back to the search box.
    page.goto(dashboard.url + "/#/groups")
    page.wait_for_selector(".view-groups")
    page.keyboard.press("/")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'query'")
