"""A real `timberyard serve` in a subprocess, for tests where the process matters."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN = "adm_process_test_token_0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init(data: Path, plan: str = "enterprise", args: list[str] | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "timberyard", "init", "--data", str(data), "--plan", plan, *(args or [])],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


class Server:
    """Start, stop, kill and restart a server on one data folder."""

    def __init__(self, data: Path, *flags: str, args: tuple[str, ...] = (), **env: str) -> None:
        self.data = data
        self.args = [*flags, *args]  # more `serve` flags, e.g. --otlp-grpc-port
        self.port = free_port()
        self.env = {**os.environ, "TIMBERYARD_ADMIN_TOKEN": ADMIN, "TIMBERYARD_LOG_LEVEL": "warning", **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Server:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "timberyard", "serve", "--data", str(self.data), "--port", str(self.port), *self.args],
            stdout=handle, stderr=handle, env=self.env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code in (200, 503):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()[-3000:]}")

    def search(self, key: str, q: str, **params: Any) -> list[dict[str, Any]]:
        """Entries matching `q` (oldest first, any time), as GET /v1/logs answers them."""
        query = {"q": q, "limit": 100, "order": "asc", "from": "0", **params}
        r = httpx.get(f"{self.url}/v1/logs", params=query, headers={"Authorization": f"Bearer {key}"},
                      timeout=10)
        assert r.status_code == 200, r.text
        return list(r.json()["logs"])

    def wait_for(self, key: str, q: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """Entries matching `q` once there are at least `count` of them (what there is at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            logs = self.search(key, q)
            if len(logs) >= count or time.monotonic() > deadline:
                return logs
            time.sleep(0.2)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
