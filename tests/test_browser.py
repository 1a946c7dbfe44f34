"""POST /v1/logs/browser: public keys, allowed origins with wildcards, CORS, stricter limits."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Harness
from timberyard.api.browser import origin_allowed

PATH = "/v1/logs/browser"


@pytest.mark.parametrize(
    ("origin", "allowed", "ok"),
    [
        ("https://app.example.com", ["app.example.com"], True),
        ("https://app.example.com", ["https://app.example.com"], True),
        ("http://app.example.com", ["https://app.example.com"], False),
        ("https://a.b.example.com", ["*.example.com"], True),
        ("https://example.com", ["*.example.com"], False),
        ("https://evil-example.com", ["*.example.com"], False),
        ("https://example.com.evil.io", ["example.com", "*.example.com"], False),
        ("http://localhost:3000", ["http://localhost:3000"], True),
        ("http://localhost:3001", ["http://localhost:3000"], False),
        ("http://localhost:3000", ["localhost:3000"], True),
        ("https://app.example.com", ["https://*.example.com"], True),
        ("null", ["*.example.com"], False),
        ("", ["app.example.com"], False),
        ("https://evil.test\\@shop.example.com", ["shop.example.com"], False),
        ("https://evil.test@shop.example.com", ["shop.example.com"], False),
        ("https://shop.example.com/", ["shop.example.com"], False),
        ("https://shop.example.com/path", ["shop.example.com"], False),
        ("https://shop.example.com?x=1", ["shop.example.com"], False),
        ("https://shop.example.com#x", ["shop.example.com"], False),
        ("https://shop.example.com:99999", ["shop.example.com"], False),
        ("https://shop.example.com ", ["shop.example.com"], False),
        ("ftp://shop.example.com", ["shop.example.com"], False),
        ("https://SHOP.example.com", ["shop.example.com"], True),
        ("https://shop.example.com:8443", ["https://shop.example.com:8443"], True),
    ],
)
def test_origin_matching(origin: str, allowed: list[str], ok: bool) -> None:
    assert origin_allowed(origin, allowed) is ok


@pytest.fixture
async def site(harness: Harness) -> tuple[Harness, str]:
    project, keys = harness.new_project(allowed_origins=["https://shop.example.com", "*.example.org"])
    return harness, keys["public"]


async def post(h: Harness, body: Any, key: str | None, origin: str | None, via: str = "header", **kw: Any) -> Any:
    headers = {}
    params = {}
    if key and via == "header":
        headers["X-Timberyard-Key"] = key
    elif key:
        params["key"] = key
    if origin:
        headers["Origin"] = origin
    headers.update(kw.pop("headers", {}))
    return await h.client.post(PATH, json=body, headers=headers, params=params, **kw)


async def test_accepts_from_allowed_origins(site: tuple[Harness, str]) -> None:
    h, key = site
    for origin, via in (("https://shop.example.com", "header"), ("https://www.example.org", "query")):
        r = await post(h, {"entries": [{"level": "warn", "message": "js error", "sessionId": "s9"}]}, key, origin, via)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 1
        assert r.headers["access-control-allow-origin"] == origin and r.headers["vary"] == "Origin"


async def test_send_beacon_text_plain_is_json(site: tuple[Harness, str]) -> None:
    h, key = site
    r = await h.client.post(PATH, content=b'{"message":"beacon"}', params={"key": key},
                            headers={"Origin": "https://shop.example.com", "Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 200 and r.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("origin", "status"),
    [(None, 403), ("https://evil.com", 403), ("https://shop.example.com.evil.com", 403), ("https://example.org", 403)],
)
async def test_forged_or_missing_origins_are_403(site: tuple[Harness, str], origin: str | None, status: int) -> None:
    h, key = site
    r = await post(h, {"message": "x"}, key, origin)
    assert r.status_code == status
    assert "access-control-allow-origin" not in r.headers


async def test_key_rules(site: tuple[Harness, str]) -> None:
    h, key = site
    origin = "https://shop.example.com"
    assert (await post(h, {"message": "x"}, None, origin)).status_code == 401
    assert (await post(h, {"message": "x"}, "pk_unknownunknownunknown", origin)).status_code == 401
    r = await post(h, {"message": "x"}, h.keys["server"], origin)
    assert r.status_code == 403 and "pk_" in r.json()["error"]
    # The public key cannot use the server endpoint either.
    r = await h.client.post("/v1/logs", json={"message": "x"}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403


async def test_preflight(site: tuple[Harness, str]) -> None:
    h, key = site
    r = await h.client.options(PATH, headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type, x-timberyard-key"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert "X-Timberyard-Key" in r.headers["access-control-allow-headers"]
    r = await h.client.options(PATH, params={"key": key}, headers={"Origin": "https://a.example.org"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "https://a.example.org"
    # With the key in the URL: that key's project decides.
    r = await h.client.options(PATH, params={"key": key}, headers={"Origin": "https://evil.com"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    # Without a key (it travels in a header whose value preflights lack) every well-formed
    # origin gets the same answer: nobody learns which origins another tenant allows.
    _, other = h.new_project(allowed_origins=["https://other-tenant.example.net"])
    answers = []
    for origin in ("https://other-tenant.example.net", "https://never-allowed.example.io"):
        r = await h.client.options(PATH, headers={"Origin": origin})
        answers.append((r.status_code, r.headers.get("access-control-allow-origin") == origin))
    assert answers[0] == answers[1]
    for origin in ("https://evil.test\\@shop.example.com", "null", ""):
        r = await h.client.options(PATH, headers={"Origin": origin} if origin else {})
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    ("key", "origin", "status"),
    [
        (None, "https://shop.example.com", 401),
        ("pk_unknownunknownunknown", "https://shop.example.com", 401),
        ("pk_unknownunknownunknown", "https://evil.com", 401),
        ("valid", "https://evil.com", 403),
        ("valid", "https://evil.test\\@shop.example.com", 403),
    ],
)
async def test_refusals_reflect_no_unchecked_origin(site: tuple[Harness, str], key: str | None, origin: str,
                                                    status: int) -> None:
    h, public = site
    r = await post(h, {"message": "x"}, public if key == "valid" else key, origin)
    assert r.status_code == status
    assert "access-control-allow-origin" not in r.headers


async def test_a_bad_body_from_an_allowed_origin_is_readable(site: tuple[Harness, str]) -> None:
    h, key = site
    r = await h.client.post(PATH, content=b"{nope", params={"key": key, "format": "json"},
                            headers={"Origin": "https://shop.example.com"})
    assert r.status_code == 400 and r.headers["access-control-allow-origin"] == "https://shop.example.com"


async def test_stricter_limits(site: tuple[Harness, str]) -> None:
    h, key = site
    origin = "https://shop.example.com"
    r = await post(h, {"entries": [{"message": "m"}] * 101}, key, origin)
    assert r.status_code == 400 and "the limit is 100" in r.json()["error"]
    r = await post(h, {"entries": [{"message": "x" * 20000}, {"message": "ok"}]}, key, origin)
    assert r.json()["accepted"] == 1 and "16384" in r.json()["errors"][0]["error"]
    r = await h.client.post(PATH, content=b"a,b", params={"key": key, "format": "csv"}, headers={"Origin": origin})
    assert r.status_code == 415


async def test_rate_limit_per_client_address(make_harness: Any) -> None:
    async with make_harness(browser_rate_per_minute=3) as h:
        project, keys = h.new_project(allowed_origins=["https://shop.example.com"])
        statuses = [(await post(h, {"message": "x"}, keys["public"], "https://shop.example.com")).status_code
                    for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        r = await post(h, {"message": "x"}, keys["public"], "https://shop.example.com")
        assert r.json()["error"] == "Rate limit exceeded" and int(r.headers["Retry-After"]) >= 1
        assert r.headers["access-control-allow-origin"] == "https://shop.example.com"
