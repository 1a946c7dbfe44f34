"""The one ingestion use-case: every surface goes through `Ingestor`, and it does the whole job."""

from __future__ import annotations

import ast
import base64
from pathlib import Path
from typing import Any

import pytest

from conftest import Harness
from timberyard.errors import TimberyardError

API = Path(__file__).resolve().parents[2] / "src" / "timberyard" / "api"


def test_no_api_module_imports_the_composition_root() -> None:
    for path in sorted(API.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = ("." * node.level) + (node.module or "")
                assert target not in ("..app", "timberyard.app"), f"{path.name} imports app.py"


def test_no_api_module_submits_to_the_pipeline() -> None:
    for path in sorted(API.glob("*.py")):
        assert "pipeline.submit(" not in path.read_text(), f"{path.name} bypasses the Ingestor"


async def groups(h: Harness) -> list[dict[str, Any]]:
    await h.flushed()
    r = await h.client.get("/v1/groups", headers=h.auth())
    assert r.status_code == 200, r.text
    return r.json()["groups"]  # type: ignore[no-any-return]


async def test_tracking_errors_form_one_group(harness: Harness) -> None:
    for order in (1, 2, 3):
        r = await harness.client.post(
            "/api/v1/tracking/log",
            json={"message": f"Payment callback failed for order {order}", "level": "error"},
            headers=harness.auth(),
        )
        assert r.status_code == 200, r.text
    [group] = await groups(harness)
    assert group["count"] == 3


async def test_tracking_and_v1_logs_share_groups(harness: Harness) -> None:
    body = {"message": "db timeout after 30s", "level": "error", "service": "api"}
    assert (await harness.client.post("/api/v1/tracking/log", json=body, headers=harness.auth())).status_code == 200
    assert (await harness.client.post("/v1/logs", json=body, headers=harness.auth())).status_code == 200
    [group] = await groups(harness)
    assert group["count"] == 2


@pytest.mark.parametrize("fmt", ["JSONL", "jsonl", "NDJSON", "Json"])
async def test_browser_format_parameter_in_any_case(harness: Harness, fmt: str) -> None:
    _, keys = harness.new_project(allowed_origins=["https://shop.example.com"])
    body = b'{"message": "a"}\n{"message": "b"}\n' if fmt.lower() != "json" else b'[{"message": "a"}]'
    r = await harness.client.post(
        f"/v1/logs/browser?format={fmt}",
        content=body,
        headers={"X-Timberyard-Key": keys["public"], "Origin": "https://shop.example.com"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == (1 if fmt.lower() == "json" else 2)


async def test_browser_refuses_other_formats(harness: Harness) -> None:
    _, keys = harness.new_project(allowed_origins=["https://shop.example.com"])
    r = await harness.client.post(
        "/v1/logs/browser?format=csv",
        content=b"message\nx\n",
        headers={"X-Timberyard-Key": keys["public"], "Origin": "https://shop.example.com"},
    )
    assert r.status_code == 415 and "json or jsonl" in r.json()["error"]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "headers",
    [
        lambda k: {"Authorization": f"Bearer {k}"},
        lambda k: {"X-API-Key": k},
        lambda k: {"Authorization": f"Bearer {k}", "X-API-Key": k},
        lambda k: {"Authorization": basic("tenant", k)},
        lambda k: {"Authorization": basic("", k)},
        lambda k: {"Authorization": f"ApiKey {k}"},
        lambda k: {"Authorization": "ApiKey " + base64.b64encode(f"some-id:{k}".encode()).decode()},
    ],
    ids=["bearer", "x-api-key", "both-agree", "basic", "basic-no-user", "apikey", "apikey-id-key"],
)
async def test_every_credential_form_ingests(harness: Harness, headers: Any) -> None:
    r = await harness.client.post("/v1/logs", json={"message": "hello"}, headers=headers(harness.keys["ingest"]))
    assert r.status_code == 200, r.text


async def test_two_credentials_that_disagree_are_refused(harness: Harness) -> None:
    r = await harness.client.post(
        "/v1/logs",
        json={"message": "hello"},
        headers={"Authorization": f"Bearer {harness.keys['ingest']}", "X-API-Key": harness.keys["server"]},
    )
    assert r.status_code == 401 and "two different" in r.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": basic("user", "sk_wrong_key_0123456789abcdef")}, {"X-API-Key": "nope"},
     {"Authorization": "ApiKey !!!"}, {"Authorization": "Basic %%%"}],
)
async def test_wrong_credentials_are_401(harness: Harness, headers: dict[str, str]) -> None:
    r = await harness.client.post("/v1/logs", json={"message": "hello"}, headers=headers)
    assert r.status_code == 401


async def test_x_api_key_reads_too(harness: Harness) -> None:
    r = await harness.client.get("/v1/logs", headers={"X-API-Key": harness.keys["read"]})
    assert r.status_code == 200, r.text


async def test_deeply_nested_json_is_a_400_on_every_json_endpoint(harness: Harness) -> None:
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    r = await harness.client.post("/api/v1/tracking/log", content=deep, headers=harness.auth())
    assert r.status_code == 400, r.text
    r = await harness.client.post("/v1/admin/organisations", content=deep, headers=harness.admin)
    assert r.status_code == 400, r.text


async def test_ingestor_prepare_then_commit(harness: Harness) -> None:
    ingestor = harness.services.ingestor
    grant = harness.services.keys.lookup(harness.keys["ingest"])
    prepared = ingestor.prepare(grant, [{"message": "ok", "level": "error"}, {"level": "info"}])
    assert len(prepared.rows) == 1 and prepared.errors == [{"index": 1, "error": "message is required"}]
    assert prepared.rows[0]["fingerprint"]
    accepted = await ingestor.commit(grant, prepared)
    assert accepted.count == 1 and accepted.rejected == 1 and "id" in accepted.rows[0]
    with pytest.raises(TimberyardError) as caught:
        ingestor.prepare(grant, [{"level": "info"}])
    assert caught.value.code == "VALIDATION_ERROR"
    with pytest.raises(TimberyardError) as caught:
        ingestor.prepare(grant, [{"message": "a"}, {"message": ""}], strict=True)
    assert caught.value.code == "VALIDATION_ERROR"
