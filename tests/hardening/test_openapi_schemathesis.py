"""schemathesis against /openapi.json of a real server: the description and the behaviour agree."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from schemathesis.specs.openapi.checks import positive_data_acceptance
from serverproc import Server, init

EXAMPLES = int(os.environ.get("TIMBERYARD_SCHEMATHESIS_EXAMPLES", "4"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    data: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    creds = init(data)
    server = Server(data, TIMBERYARD_BATCH_SECONDS="0.1").start()
    try:
        yield server, creds
    finally:
        server.stop()


def test_api_matches_its_description(served: tuple[Server, dict[str, Any]]) -> None:
    server, creds = served
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/v1/tail":
            continue  # a stream never ends; tests/tail covers it
        token = creds["adminToken"] if operation.path.startswith("/v1/admin") else creds["key"]

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def check(case: Any) -> None:
            # Parameters are described as strings whose grammar (instants, queries) is prose,
            # so a random "schema-valid" string is rightly a 400: that one check is left out.
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                   excluded_checks=[positive_data_acceptance])

        tested += 1
        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert tested >= 20
    assert not failures, "\n\n".join(failures)
