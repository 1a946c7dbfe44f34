"""The channel management API: create, list, validate, delete."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Harness

from .conftest import Smtp, add_channel, alert_app

SECRET = "whsec_never_shown_0123"


async def test_create_list_and_delete_channels(
    make_harness: Any, smtp_server: Smtp, receiver_factory: Any
) -> None:
    hook = receiver_factory()
    async with alert_app(make_harness, smtp_server) as h:
        path = f"/v1/admin/organisations/{h.org['id']}/channels"
        webhook = await add_channel(
            h, {"type": "webhook", "url": hook.url, "secret": SECRET, "name": "ops hook"}
        )
        slack = await add_channel(h, {"type": "slack", "url": hook.url, "minLevel": "warning"})
        email = await add_channel(
            h,
            {
                "type": "email",
                "to": "ops@example.com, dev@example.com",
                "groupInterval": "1h 30m",
                "query": "service:checkout",
            },
        )
        assert webhook["id"].startswith("ch_") and webhook["organisation"] == h.org["id"]
        assert webhook["signed"] is True and "secret" not in webhook
        assert webhook["name"] == "ops hook" and webhook["minLevel"] == "error"
        assert slack["minLevel"] == "warn"
        assert email["to"] == ["ops@example.com", "dev@example.com"]
        assert email["groupInterval"] == 5400.0 and email["query"] == "service:checkout"
        assert email["deliveries"] == [] and isinstance(email["createdAt"], int)

        r = await h.client.get(path, headers=h.admin)
        assert r.status_code == 200
        listed = r.json()["channels"]
        assert [c["id"] for c in listed] == [webhook["id"], slack["id"], email["id"]]
        assert all(c["deliveries"] == [] for c in listed)
        # Secrets of channels and of the server never appear.
        assert SECRET not in r.text and "s3cret" not in r.text

        r = await h.client.get(f"/v1/admin/channels/{slack['id']}", headers=h.admin)
        assert r.status_code == 200 and r.json()["type"] == "slack"

        r = await h.client.delete(f"/v1/admin/channels/{slack['id']}", headers=h.admin)
        assert r.status_code == 200 and r.json() == {"id": slack["id"], "deleted": True}
        r = await h.client.get(path, headers=h.admin)
        assert [c["id"] for c in r.json()["channels"]] == [webhook["id"], email["id"]]
        for method, suffix in (("DELETE", ""), ("GET", ""), ("GET", "/deliveries")):
            r = await h.client.request(
                method, f"/v1/admin/channels/{slack['id']}{suffix}", headers=h.admin
            )
            assert r.status_code == 404 and slack["id"] in r.json()["error"]


async def test_channels_need_the_admin_token_and_a_known_organisation(harness: Harness) -> None:
    h = harness
    path = f"/v1/admin/organisations/{h.org['id']}/channels"
    body = {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, h.auth()):
        assert (await h.client.post(path, json=body, headers=headers)).status_code == 401
        assert (await h.client.get(path, headers=headers)).status_code == 401
    for method in ("GET", "POST"):
        r = await h.client.request(
            method, "/v1/admin/organisations/org_missing/channels", json=body, headers=h.admin
        )
        assert r.status_code == 404 and "org_missing" in r.json()["error"]
    r = await h.client.get("/v1/admin/channels/ch_missing/deliveries", headers=h.admin)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "type is required: expected webhook, slack or email"),
        ({"type": "sms", "to": "+420"}, 'unknown channel type "sms"'),
        ({"type": "webhook"}, "url is required for a webhook channel"),
        ({"type": "webhook", "url": "ftp://example.com/x"}, "must start with http:// or https://"),
        ({"type": "slack", "url": "not a url"}, "must not contain whitespace"),
        ({"type": "email", "to": "nobody"}, 'to: "nobody" is not a valid email address'),
        ({"type": "email"}, "to is required for a email channel"),
        (
            {"type": "slack", "url": "https://x.test/h", "minLevel": "loud"},
            'minLevel "loud" is not a level',
        ),
        (
            {"type": "slack", "url": "https://x.test/h", "groupInterval": "soon"},
            'groupInterval "soon" is not an interval',
        ),
        (
            {"type": "slack", "url": "https://x.test/h", "secret": "x"},
            'unknown key "secret" for a slack channel',
        ),
        (
            {"type": "slack", "url": "https://x.test/h", "query": "level:=err"},
            'query "level:=err" is invalid',
        ),
        (
            {"type": "slack", "url": "https://x.test/h", "query": "(a OR"},
            'query "(a OR" is invalid',
        ),
    ],
)
async def test_invalid_channels_are_rejected(
    make_harness: Any, smtp_server: Smtp, body: dict[str, Any], expected: str
) -> None:
    async with alert_app(make_harness, smtp_server) as h:
        path = f"/v1/admin/organisations/{h.org['id']}/channels"
        r = await h.client.post(path, json=body, headers=h.admin)
        assert r.status_code == 400, r.text
        doc = r.json()
        assert doc["code"] == "VALIDATION_ERROR"
        assert expected in doc["error"], doc["error"]
        assert any(expected in issue for issue in doc["issues"])
        assert (await h.client.get(path, headers=h.admin)).json()["channels"] == []


async def test_malformed_bodies_and_email_without_smtp(harness: Harness) -> None:
    h = harness
    path = f"/v1/admin/organisations/{h.org['id']}/channels"
    r = await h.client.post(path, content=b"{not json", headers=h.admin)
    assert r.status_code == 400 and "invalid JSON body" in r.json()["error"]
    r = await h.client.post(path, json=["webhook"], headers=h.admin)
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    # This server has no SMTP relay configured: an email channel could never deliver.
    r = await h.client.post(path, json={"type": "email", "to": "ops@example.com"}, headers=h.admin)
    assert r.status_code == 400 and "TIMBERYARD_SMTP_HOST" in r.json()["error"]
