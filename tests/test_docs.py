"""Docs that cannot drift: every setting, error code, endpoint and CLI command is described."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import Harness
from timberyard.api.openapi import openapi_path
from timberyard.errors import DESCRIPTIONS, STATUS_BY_CODE
from timberyard.settings import describe

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    for name, default, env, help_text in describe():
        row = next((line for line in README.splitlines() if f"`{env}`" in line), None)
        assert row is not None, f"setting {name} ({env}) is missing from the README's settings table"
        assert help_text in row and f"`{name}`" in row


def test_every_error_code_is_documented() -> None:
    assert set(DESCRIPTIONS) == set(STATUS_BY_CODE)
    for code, status in STATUS_BY_CODE.items():
        assert re.search(rf"\| `{code}` \| {status} \|", README), f"error {code} missing from the README"


async def test_openapi_describes_every_route(harness: Harness) -> None:
    doc = (await harness.client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for route in harness.app.routes:
        methods = getattr(route, "methods", None)
        if not methods:
            continue
        for method in methods - {"HEAD"}:
            path = openapi_path(route.path)
            assert (method, path) in described, f"{method} {path} missing from /openapi.json"
            op = doc["paths"][path][method.lower()]
            assert op["summary"] != f"{method} {path}", f"{method} {path} has no docstring"


def test_cli_help_lists_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "timberyard", "--help"], capture_output=True, text=True, check=True).stdout
    commands = ("serve", "init", "keys", "projects", "orgs", "search", "tail", "send", "import")
    for command in commands:
        assert command in out
    for command in commands:
        sub = subprocess.run([sys.executable, "-m", "timberyard", command, "--help"], capture_output=True, text=True,
                             check=True).stdout
        # Every command explains itself: a description and at least one example or option.
        assert f"usage: timberyard {command}" in sub and len(sub.splitlines()) > 4, command
