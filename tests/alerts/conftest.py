"""Real local receivers for alert tests: HTTP servers and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from timberyard.alerts import (
    AlertSettings,
    Dispatcher,
    MemoryChannels,
    RetryPolicy,
    SmtpSettings,
    validate_channel,
)

HOST = "127.0.0.1"


def free_port() -> int:
    """A port that was free a moment ago (and is closed: connecting is refused)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Request:
    """One request as a receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server in a thread that records POSTs and answers as scripted."""

    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delay: float = 0.0
    requests: list[Request] = field(default_factory=list)
    attempts: int = 0
    server: ThreadingHTTPServer | None = None
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{HOST}:{self.server.server_address[1]}/hook"

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Request]:
        """The recorded requests once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            await asyncio.sleep(0.01)
        return self.requests


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.attempts += 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            if receiver.delay:
                receiver.released.wait(receiver.delay)
            if status < 300:
                receiver.requests.append(Request(self.path, dict(self.headers), body))
            payload = b"ok" if status < 300 else b"receiver is down"
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(statuses: list[int] | None = None, delay: float = 0.0) -> Receiver:
        receiver = Receiver(statuses=list(statuses or []), delay=delay)
        server = ThreadingHTTPServer((HOST, 0), _handler(receiver))
        server.daemon_threads = True
        server.block_on_close = False
        receiver.server = server
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.released.set()
        assert receiver.server is not None
        receiver.server.shutdown()
        receiver.server.server_close()


class MailHandler:
    """Keeps every message the SMTP server accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} emails, got {len(self.messages)}")
            await asyncio.sleep(0.01)
        return [m for _, _, m in self.messages]


class Authenticator:
    """Accepts one login and password."""

    def __init__(self, login: str, password: str) -> None:
        self.expected = LoginPassword(login.encode(), password.encode())
        self.logins: list[str] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data == self.expected
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


@dataclass
class Smtp:
    handler: MailHandler
    port: int
    auth: Authenticator


@pytest.fixture
def smtp_server() -> Iterator[Smtp]:
    handler = MailHandler()
    auth = Authenticator("alerts", "s3cret")
    port = free_port()
    controller = Controller(
        handler, hostname=HOST, port=port, authenticator=auth, auth_require_tls=False
    )
    controller.start()
    try:
        yield Smtp(handler, port, auth)
    finally:
        controller.stop()


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


FAST_RETRY = RetryPolicy(attempts=5, base=0.01, max_delay=0.05, jitter=0)


def settings(smtp_port: int | None = None, **overrides: Any) -> AlertSettings:
    """Alert settings with tiny delays for tests."""
    values: dict[str, Any] = {
        "public_url": "http://127.0.0.1:8080",
        "retry": FAST_RETRY,
        "timeout": 2.0,
        "flush_period": 3600.0,
    }
    if smtp_port is not None:
        values["smtp"] = SmtpSettings(
            host=HOST,
            port=smtp_port,
            starttls=False,
            username="alerts",
            password="s3cret",
            sender="timberyard@example.com",
            timeout=2.0,
        )
    values.update(overrides)
    return AlertSettings(**values)


_counter = iter(range(1, 10**9))


def entry(**overrides: Any) -> dict[str, Any]:
    """A stored entry row as the ingestion pipeline hands it over."""
    n = next(_counter)
    row: dict[str, Any] = {
        "id": f"{n:016x}",
        "project_id": "proj1",
        "timestamp": 1_700_000_000_000_000_000 + n,
        "level": "error",
        "severity": 5,
        "message": f"User {n} failed at /app/x.js:42 'abc'",
        "service": "checkout",
        "environment": "production",
        "error_name": "TypeError",
        "fields": {},
        "send_notification": None,
    }
    row.update(overrides)
    if "level" in overrides and "severity" not in overrides:
        from timberyard.model import SEVERITY

        row["severity"] = SEVERITY[row["level"]]
    return row


def add_channel(channels: MemoryChannels, org: str, raw: dict[str, Any], cid: str) -> None:
    channels.add(org, validate_channel(raw), cid)


@pytest.fixture
async def make_dispatcher(clock: FakeClock) -> Any:
    """Build started dispatchers, stopped at the end of the test."""
    made: list[Dispatcher] = []

    async def make(channels: MemoryChannels, **kwargs: Any) -> Dispatcher:
        kwargs.setdefault("settings", settings())
        kwargs.setdefault("clock", clock)
        dispatcher = Dispatcher(channels, **kwargs)
        await dispatcher.start()
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        await dispatcher.stop(timeout=2.0)
