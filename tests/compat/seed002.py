"""Seed 002 helpers shared by its test modules: requests to GET /logs and body checks."""

from __future__ import annotations

from typing import Any

from conftest import Harness

BAD_DATE = "Invalid date format for '{}'. Please use ISO 8601 format (YYYY-MM-DDTHH:MM:SSZ)."
UNAUTHORIZED = {
    "status": "error",
    "message": "Authentication required. Please provide a valid API key or token.",
}
FORBIDDEN = {"status": "error", "message": "You do not have permission to access API logs."}


async def get(h: Harness, kind: str | None = "read", **params: Any) -> Any:
    """GET /logs with a key of this kind (none when kind is None)."""
    headers = h.auth(kind) if kind else {}
    return await h.client.get("/logs", params=params, headers=headers)


async def ok(h: Harness, **params: Any) -> dict[str, Any]:
    """The `data` of a 200 answer, after checking every key of the seed's body shape."""
    r = await get(h, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"status", "data"} and body["status"] == "success"
    assert set(body["data"]) == {"logs", "pagination"}
    assert set(body["data"]["pagination"]) == {"total", "limit", "offset", "nextOffset"}
    for log in body["data"]["logs"]:
        assert set(log) == {"timestamp", "level", "service", "message", "details"}
    return body["data"]


def messages(data: dict[str, Any]) -> list[str]:
    """The messages of a page, in order."""
    return [log["message"] for log in data["logs"]]


def bad(r: Any, message: str | None = None) -> None:
    """Assert a 400 in the seed's error shape, with this message when given."""
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"status", "message"} and body["status"] == "error"
    if message is not None:
        assert body["message"] == message
