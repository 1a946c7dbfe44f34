"""A real `timberyard serve` on a fresh data folder, for scripts/fuzz, chaos and soak."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN = "adm_bench_token_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """One server process on one data folder: start, kill -9, stop, restart."""

    def __init__(self, data: Path | None = None, preexec: Any = None, **env: str) -> None:
        self.data = data or Path(tempfile.mkdtemp(prefix="timberyard-bench-")) / "data"
        self.port = free_port()
        self.env = {**os.environ, "TIMBERYARD_ADMIN_TOKEN": ADMIN, "TIMBERYARD_LOG_LEVEL": "warning", **env}
        self.preexec = preexec
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.data.parent / "server.log"
        self.creds: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def init(self) -> dict[str, Any]:
        out = subprocess.run([sys.executable, "-m", "timberyard", "init", "--data", str(self.data),
                              "--plan", "enterprise"], check=True, capture_output=True, text=True)
        self.creds = json.loads(out.stdout)
        return self.creds

    def start(self, timeout: float = 90) -> Served:
        self.data.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "timberyard", "serve", "--data", str(self.data), "--port", str(self.port)],
            stdout=handle, stderr=handle, env=self.env, preexec_fn=self.preexec,
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
        raise RuntimeError("server did not start")

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def rss_mib(self) -> float:
        return self.memory_mib().get("VmRSS", 0.0)

    def memory_mib(self) -> dict[str, float]:
        """VmRSS and its parts (RssAnon: heap; RssFile: mapped code and files), in MiB."""
        assert self.proc is not None
        out: dict[str, float] = {}
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in ("VmRSS", "RssAnon", "RssFile"):
                    out[name] = int(value.split()[0]) / 1024
        except OSError:
            pass
        return out
