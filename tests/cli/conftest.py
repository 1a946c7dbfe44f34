"""One real server for the CLI tests, and a way to run `timberyard` against it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from serverproc import ADMIN, Server, init


@dataclass
class Live:
    """A running server and the credentials `timberyard init` made for it."""

    url: str
    org: str
    project: str
    key: str
    admin: str
    workdir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a CLI run against this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIMBERYARD_")}
        return {
            **env,
            "TIMBERYARD_URL": self.url,
            "TIMBERYARD_KEY": self.key,
            "TIMBERYARD_ADMIN_TOKEN": self.admin,
            "NO_COLOR": "1",
            **extra,
        }

    def run(
        self, *args: str, stdin: str | bytes | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run `python -m timberyard ARGS`; never raises on a non-zero exit."""
        data = stdin.encode() if isinstance(stdin, str) else stdin
        done = subprocess.run(
            [sys.executable, "-m", "timberyard", *args],
            input=data,
            capture_output=True,
            env=self.env(**env),
            timeout=60,
            cwd=self.workdir,
        )
        return subprocess.CompletedProcess(
            done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
        )

    def logs(self, q: str = "", key: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every entry matching `q` (oldest first), read with the API directly."""
        headers = {"Authorization": f"Bearer {key or self.key}"}
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {
                "q": q,
                "limit": 10000,
                "order": "asc",
                "from": "0",
                "total": "false",
                **params,
            }
            if cursor:
                query["cursor"] = cursor
            page = httpx.get(f"{self.url}/v1/logs", params=query, headers=headers, timeout=30)
            page.raise_for_status()
            body = page.json()
            found += body["logs"]
            cursor = body["nextCursor"]
            if not cursor:
                return found

    def wait_logs(self, q: str, expected: int, timeout: float = 10) -> list[dict[str, Any]]:
        """The entries matching `q` once there are `expected` of them (or the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.logs(q)
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("cli-server")
    creds = init(root / "data")
    server = Server(root / "data", TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        yield Live(server.url, creds["organisation"], creds["project"], creds["key"], ADMIN, root)
    finally:
        server.stop()
