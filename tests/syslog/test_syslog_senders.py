"""Real syslog senders against a real `timberyard serve --syslog-port`: logger and rsyslog.

Each sender writes a few messages with its own tag; the test waits until they
are searchable and checks service (TAG / APP-NAME), level (severity), host and
message as the syslog format maps them.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from serverproc import Server, free_port, init

HOST = socket.gethostname()


class Syslog:
    """A server with a syslog port, and a way to read what arrived."""

    def __init__(self, server: Server, port: int, key: str) -> None:
        self.server = server
        self.port = port
        self.key = key

    def search(self, q: str) -> list[dict[str, Any]]:
        return self.server.search(self.key, q)

    def wait(self, q: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        return self.server.wait_for(self.key, q, count, timeout)

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.server.url}/health", timeout=10).json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def syslog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Syslog]:
    data = tmp_path_factory.mktemp("syslog") / "data"
    created = init(data)
    port = free_port()
    server = Server(data, args=("--syslog-port", str(port), "--syslog-project", created["project"]))
    server.start()
    try:
        yield Syslog(server, port, created["key"])
    finally:
        server.terminate()


def logger(syslog: Syslog, *args: str) -> None:
    subprocess.run(
        ["logger", "-n", "127.0.0.1", "-P", str(syslog.port), *args], check=True, timeout=30
    )


@pytest.mark.parametrize(
    ("tag", "options", "priority", "level"),
    [
        ("lg5424tcpcount", ["--rfc5424", "-T", "--octet-count"], "user.err", "error"),
        ("lg5424tcplf", ["--rfc5424", "-T"], "local3.warning", "warn"),
        ("lg3164tcp", ["--rfc3164", "-T"], "daemon.info", "info"),
        ("lg5424udp", ["--rfc5424", "-d"], "user.debug", "debug"),
        ("lg3164udp", ["--rfc3164", "-d"], "auth.crit", "error"),
    ],
)
def test_util_linux_logger(
    syslog: Syslog, tag: str, options: list[str], priority: str, level: str
) -> None:
    for n in range(3):
        logger(syslog, *options, "-t", tag, "-p", priority, f"message {n} from logger")
    logs = syslog.wait(f"service:{tag}", 3)
    assert sorted(log["message"] for log in logs) == [f"message {n} from logger" for n in range(3)]
    assert {log["level"] for log in logs} == {level}
    assert all(log["host"] for log in logs)


RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}" RateLimit.Interval="0" CreatePath="on")
if $programname == "rsudp" then {{
  action(type="omfwd" target="127.0.0.1" port="{port}" protocol="udp"
         template="RSYSLOG_TraditionalForwardFormat")
  stop
}}
if $programname == "rstcplf" then {{
  action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp"
         template="RSYSLOG_ForwardFormat")
  stop
}}
if $programname == "rstcpcount" then {{
  action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  stop
}}
*.* stop
"""


@pytest.fixture(scope="module")
def rsyslog(syslog: Syslog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("rsyslog")
    sock = work / "log.sock"
    conf = work / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=work, socket=sock, port=syslog.port))
    proc = subprocess.Popen(
        ["rsyslogd", "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            output = proc.stdout.read() if proc.stdout else b""
            proc.kill()
            raise RuntimeError(f"rsyslogd did not start: {output.decode(errors='replace')}")
        time.sleep(0.05)
    try:
        yield sock
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize(
    ("tag", "priority", "level"),
    [
        ("rsudp", "local3.warning", "warn"),  # omfwd UDP, RFC 3164
        ("rstcplf", "user.err", "error"),  # omfwd TCP, LF framing, high-precision 3164
        ("rstcpcount", "daemon.notice", "info"),  # omfwd TCP, octet-counted RFC 5424
    ],
)
def test_rsyslog_forwarding(
    syslog: Syslog, rsyslog: Path, tag: str, priority: str, level: str
) -> None:
    for n in range(3):
        subprocess.run(
            ["logger", "-u", str(rsyslog), "-t", tag, "-p", priority, f"relayed {n} by rsyslog"],
            check=True,
            timeout=30,
        )
    logs = syslog.wait(f"service:{tag}", 3)
    assert sorted(log["message"] for log in logs) == [f"relayed {n} by rsyslog" for n in range(3)]
    assert {log["level"] for log in logs} == {level}
    assert all(log["host"] for log in logs)


def test_counters_are_in_health(syslog: Syslog) -> None:
    sock = socket.create_connection(("127.0.0.1", syslog.port))
    sock.sendall(b"not syslog\n<14>1 - h counters - - - ok\n")
    sock.close()
    syslog.wait("service:counters", 1)
    stats = syslog.health()["syslog"]
    assert stats["port"] == syslog.port and stats["malformed"] >= 1
    assert stats["entries"] >= 1 and stats["frames"] >= 2


SYSLOG_NG = Path(__file__).resolve().parents[2] / ".deps" / "syslog-ng"
SYSLOG_NG_CONF = """@version: 3.38
options {{ keep-hostname(yes); stats-freq(0); }};
source s_local {{ unix-dgram("{socket}"); }};
destination d_5424 {{ syslog("127.0.0.1" port({port}) transport("tcp") persist-name("d5424")); }};
destination d_udp {{ network("127.0.0.1" port({port}) transport("udp") persist-name("dudp")); }};
destination d_tcp {{ network("127.0.0.1" port({port}) transport("tcp") persist-name("dtcp")); }};
filter f_5424 {{ program("sng5424"); }};
filter f_udp {{ program("sngudp"); }};
filter f_tcp {{ program("sngtcp"); }};
log {{ source(s_local); filter(f_5424); destination(d_5424); }};
log {{ source(s_local); filter(f_udp); destination(d_udp); }};
log {{ source(s_local); filter(f_tcp); destination(d_tcp); }};
"""


@pytest.fixture(scope="module")
def syslog_ng(syslog: Syslog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # Extracted from its Debian package by scripts/deps/syslog-ng.sh (it conflicts with rsyslog).
    binary = SYSLOG_NG / "usr" / "sbin" / "syslog-ng"
    assert binary.exists(), "run TIMBERYARD_SETUP_SYSTEM=1 ./scripts/setup to extract syslog-ng"
    work = tmp_path_factory.mktemp("syslog-ng")
    sock = work / "log.sock"
    conf = work / "syslog-ng.conf"
    conf.write_text(SYSLOG_NG_CONF.format(socket=sock, port=syslog.port))
    libs = f"{SYSLOG_NG}/usr/lib/syslog-ng:{SYSLOG_NG}/usr/lib/x86_64-linux-gnu"
    proc = subprocess.Popen(
        [str(binary), "-F", "-f", str(conf), f"--module-path={SYSLOG_NG}/usr/lib/syslog-ng/3.38",
         "-R", str(work / "persist"), "-p", str(work / "pid"), "-c", str(work / "ctl")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={"LD_LIBRARY_PATH": libs},
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            output = proc.stdout.read() if proc.stdout else b""
            proc.kill()
            raise RuntimeError(f"syslog-ng did not start: {output.decode(errors='replace')}")
        time.sleep(0.05)
    try:
        yield sock
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize(
    ("tag", "priority", "level"),
    [
        ("sng5424", "user.err", "error"),  # syslog(): RFC 5424, octet count including the LF
        ("sngudp", "local3.warning", "warn"),  # network() over UDP: RFC 3164 ending in LF
        ("sngtcp", "daemon.debug", "debug"),  # network() over TCP: RFC 3164, LF framing
    ],
)
def test_syslog_ng_forwarding(
    syslog: Syslog, syslog_ng: Path, tag: str, priority: str, level: str
) -> None:
    for n in range(3):
        subprocess.run(
            ["logger", "-u", str(syslog_ng), "-t", tag, "-p", priority, f"relayed {n} by syslog-ng"],
            check=True,
            timeout=30,
        )
    logs = syslog.wait(f"service:{tag}", 3)
    assert sorted(log["message"] for log in logs) == [
        f"relayed {n} by syslog-ng" for n in range(3)
    ], (syslog.health(), syslog.search(""))
    assert {log["level"] for log in logs} == {level}
    assert all(log["host"] for log in logs)
