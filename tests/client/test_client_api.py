"""`Client.ingest`, `ingest_raw` and `search` against a real server."""

from __future__ import annotations

import httpx
import pytest

from timberyard.client import CONTENT_TYPES, APIError, Client

from .conftest import Live


def test_ingest_entries(live: Live) -> None:
    with Client(live.url, live.key) as client:
        result = client.ingest(
            [
                {
                    "message": "signed in",
                    "level": "info",
                    "source": "auth",
                    "userId": "u1",
                    "data": {"method": "oauth"},
                },
                {"message": "no level", "source": "auth"},
                {"message": "bad", "level": "loud", "source": "auth"},
            ]
        )
    assert result["accepted"] == 2 and result["rejected"] == 1
    assert result["errors"][0]["index"] == 2 and "loud" in result["errors"][0]["error"]
    got = live.wait_logs("service:auth", 2)
    assert got[0]["userId"] == "u1" and got[0]["fields"] == {"method": "oauth"}


def test_ingest_splits_more_than_1000_entries(live: Live) -> None:
    with Client(live.url, live.key) as client:
        result = client.ingest({"message": f"m{i}", "source": "bulk"} for i in range(2100))
    assert result["accepted"] == 2100 and result["count"] == 2100
    assert len(live.wait_logs("service:bulk", 2100)) == 2100


def test_ingest_raw_csv_with_defaults(live: Live) -> None:
    body = (
        "level,message,timestamp,region\n"
        "error,Connection refused,1705312200000,eu\n"
        "info,Request completed,1705312201000,us\n"
    )
    with Client(live.url, live.key) as client:
        result = client.ingest_raw(
            body, "csv", source="nginx", environment="production", dataset="edge"
        )
    assert result["success"] is True and result["count"] == 2
    got = live.wait_logs("service:nginx AND dataset:edge", 2)
    assert [(e["level"], e["message"], e["timestamp"]) for e in got] == [
        ("error", "Connection refused", 1705312200000),
        ("info", "Request completed", 1705312201000),
    ]
    assert {e["environment"] for e in got} == {"production"}
    assert [e["fields"]["region"] for e in got] == ["eu", "us"]


def test_ingest_raw_text_with_defaults(live: Live) -> None:
    body = (
        b"2024-01-15 10:30:00 ERROR Connection refused to database\n"
        b"2024-01-15 10:30:01 Retrying connection...\n"
    )
    with Client(live.url, live.key) as client:
        result = client.ingest_raw(
            body, "text", source="legacy", environment="staging", level="warn"
        )
    assert result["accepted"] == 2
    got = live.wait_logs("service:legacy", 2)
    assert [(e["level"], e["message"]) for e in got] == [
        ("error", "Connection refused to database"),
        ("warn", "Retrying connection..."),  # no level in the line: the default
    ]
    assert {e["environment"] for e in got} == {"staging"}
    assert got[0]["timestamp"] == 1705314600000


@pytest.mark.parametrize(("fmt", "content_type"), sorted(CONTENT_TYPES.items()))
def test_ingest_raw_sends_the_content_type_and_format_of_seed_003(
    fmt: str, content_type: str
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "count": 1})

    with Client("http://ty.test", "sk_x", transport=httpx.MockTransport(answer)) as client:
        client.ingest_raw("body", fmt, source="nginx", environment="production", level=None)
    request = seen[0]
    assert request.headers["content-type"] == content_type
    assert request.headers["authorization"] == "Bearer sk_x"
    assert dict(request.url.params) == {
        "format": fmt,
        "source": "nginx",
        "environment": "production",
    }
    assert request.content == b"body"


def test_ingest_raw_refuses_an_unknown_format() -> None:
    with Client("http://ty.test", "sk_x") as client, pytest.raises(ValueError, match="xml"):
        client.ingest_raw("<a/>", "xml")


def test_errors_carry_the_servers_message(live: Live) -> None:
    with Client(live.url, live.key) as client:
        with pytest.raises(APIError) as bad:
            client.ingest_raw('{"message": "a"}\nnot json\n', "jsonl")
        assert bad.value.status == 400 and bad.value.code == "PARSE_ERROR"
        assert bad.value.message == "Failed to parse line 2: invalid JSON"
        assert bad.value.body["line"] == 2
    with Client(live.url, "sk_" + "x" * 32) as client, pytest.raises(APIError) as denied:
        client.search("x")
    assert denied.value.status == 401 and denied.value.message == "Invalid API key"


def test_search_and_iter_logs(live: Live) -> None:
    with Client(live.url, live.key) as client:
        client.ingest(
            [{"message": f"page {i}", "source": "pager", "level": "warn"} for i in range(25)]
        )
        live.wait_logs("service:pager", 25)
        page = client.search("service:pager AND page", from_="-1h", limit=5, order="asc")
        assert [e["message"] for e in page["logs"]] == [f"page {i}" for i in range(5)]
        assert page["total"] == 25 and page["nextCursor"]
        every = list(client.iter_logs("service:pager", limit=23, page_size=10, order="asc"))
    assert [e["message"] for e in every] == [f"page {i}" for i in range(23)]
