"""A stand-in ClickHouse HTTP server for tests: records what clients send, answers as a
server would.

No modern ClickHouse server can run on the test machines, so this records every
statement, setting and body that clickhouse-connect sends over HTTP, answers the
client's own start-up queries (version, time zone, settings) from the embedded chDB
(real Native-format results), answers `schema_version` reads from what was inserted,
and answers every other statement with an empty success, or with a scripted
ClickHouse error.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

import lz4.frame

_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*$", re.IGNORECASE)
_INSERT = re.compile(rb"(\s*INSERT\s.*?\sFORMAT\s+\w+)[ \t]*\n", re.DOTALL | re.IGNORECASE)
# What clickhouse-connect asks a server when it connects.
_START_UP = ("SELECT version(), timezone()", "FROM system.settings", "SELECT 1 AS check")
_VERSION_ROW = re.compile(r"schema_version \(version\) VALUES \((\d+)\)")


@dataclass
class Request:
    """One HTTP request as the server saw it."""

    sql: str
    params: dict[str, str]
    body: bytes


@dataclass
class FakeClickHouse:
    """Serve on 127.0.0.1 (port 0: a free one); `requests` is everything received."""

    chdb: Any  # a clickhouse-connect chDB client, for real Native answers
    requests: list[Request] = field(default_factory=list)
    # A substring of a statement -> (HTTP status, ClickHouse error text) to answer with.
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    # The same, answered once and then forgotten.
    fail_once: dict[str, tuple[int, str]] = field(default_factory=dict)
    versions: list[int] = field(default_factory=list)
    raw_headers: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.handle_one()

            def do_POST(self) -> None:
                self.handle_one()

            def read_chunked(self) -> bytes:
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()

            def handle_one(self) -> None:
                parts = urlparse(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self.read_chunked()
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else b""
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "lz4":
                    body = lz4.frame.decompress(body)
                if "query" in params:
                    sql = params.pop("query")
                elif body.lstrip()[:6].upper() == b"INSERT" and _INSERT.match(body):
                    # An INSERT's statement and its data travel in one body.
                    head = _INSERT.match(body)
                    assert head is not None
                    sql, body = head.group(1).decode(), body[head.end() :]
                else:
                    sql, body = body.decode(), b""
                fake.raw_headers.append(dict(self.headers))
                status, payload, headers = fake.answer(Request(sql, params, body))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                # One request per connection: once closed, the server is really gone.
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def answer(self, request: Request) -> tuple[int, bytes, dict[str, str]]:
        self.requests.append(request)
        headers = {"X-ClickHouse-Summary": '{"read_rows":"0","written_rows":"0"}'}
        for fragment in list(self.fail_once):
            if fragment in request.sql:
                return self.answer_error(request, *self.fail_once.pop(fragment))
        for fragment, (status, text) in self.failures.items():
            if fragment in request.sql:
                return self.answer_error(request, status, text)
        found = _VERSION_ROW.search(request.sql)
        if found:
            self.versions.append(int(found.group(1)))
        fmt = _FORMAT.search(request.sql)
        if fmt is not None:
            query, out = request.sql[: fmt.start()], fmt.group(1)
        elif request.sql.lstrip().upper().startswith("SELECT"):
            query, out = request.sql, "TabSeparated"  # a command's answer is text
        else:
            return 200, b"", headers
        if "schema_version" in query:
            query = f"SELECT toUInt32({max(self.versions, default=0)})"
        elif "system." not in query and "version()" not in query and "timezone()" not in query:
            query = "SELECT 1 WHERE 0"
        result = self.chdb.raw_query(query, fmt=out)
        headers["X-ClickHouse-Format"] = out
        return 200, result, headers

    def answer_error(
        self, request: Request, status: int, text: str
    ) -> tuple[int, bytes, dict[str, str]]:
        """A ClickHouse error (its code in the header, as a server sends it) or a proxy's."""
        headers = {}
        if text.startswith("Code: "):
            headers["X-ClickHouse-Exception-Code"] = text.split(".")[0].split()[-1]
        return status, text.encode(), headers

    @property
    def statements(self) -> list[str]:
        """The SQL of every request after the client's start-up queries."""
        return [r.sql for r in self.requests if not any(q in r.sql for q in _START_UP)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
