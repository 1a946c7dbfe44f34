"""A real server for the shipper clients, and helpers to run them and find what they sent."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from serverproc import Server, init

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = Path(__file__).parent / "clients"
NODE_MODULES = ROOT / "scripts" / "deps" / "node" / "node_modules"


@dataclass
class Shipped:
    """A running server, its ingest key, and a way to wait for entries to be searchable."""

    server: Server
    key: str
    data: Path

    @property
    def url(self) -> str:
        return self.server.url

    def search(self, q: str) -> list[dict[str, Any]]:
        return self.server.search(self.key, q)

    def wait_for(self, q: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        found = self.server.wait_for(self.key, q, count, timeout)
        assert len(found) >= count, f"{q!r}: {len(found)} entries searchable, expected {count}: {found}"
        return found


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipped]:
    data = tmp_path_factory.mktemp("shippers") / "data"
    creds = init(data)
    server = Server(data, TIMBERYARD_BATCH_SECONDS="0.05").start()
    try:
        yield Shipped(server, creds["key"], data)
    finally:
        server.stop()


def run(args: list[str], timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run a client program; fail the test with its output when it exits non-zero."""
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES), **kw.pop("env", {})}
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, **kw)
    assert done.returncode == 0, f"{args[:3]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done
