"""Syslog over the network: UDP and TCP (optionally TLS, RFC 5425) into one project.

`serve --syslog-port P --syslog-project ID` listens on UDP and TCP port P. TCP
streams are split into frames by `formats.syslog_framing` (RFC 6587 octet
counting, LF or NUL trailers, detected per frame); a UDP datagram is one
message (RFC 5426). Frames are parsed by the parser of `?format=syslog` and go
through `Ingestor.accept(..., surface="syslog")` like any HTTP request.

Durability and memory: a TCP connection is not read further while the WAL
append of what it sent is pending, so TCP flow control slows a sender down to
what the pipeline takes (and retries while the store is unreachable and the WAL
is full). UDP cannot be slowed down: datagrams wait in a queue bounded in
bytes, and those that do not fit, or that the pipeline refuses, are dropped
and counted. Malformed frames are counted and skipped; the connection lives on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

from ..errors import TimberyardError
from ..formats.syslog import parse_frames
from ..formats.syslog_framing import Framer
from ..model import Limits
from ..storage.meta import KEY_KINDS, KeyInfo, MetaStore
from .service import Ingestor

log = logging.getLogger("timberyard.syslog")

# Bytes read from a TCP connection at a time; the frames in them are stored before more is
# read. A connection holds at most about three times this (its read, and the buffer of
# its transport, which stops reading the socket past twice it).
READ_BYTES = 1024 * 1024
# TCP connections served at once; one more is closed as it arrives (counted as refused).
MAX_TCP_CONNECTIONS = 256
# UDP datagrams waiting for the pipeline, in bytes; beyond it they are dropped.
UDP_QUEUE_BYTES = 8 * 1024 * 1024
# Longest frame accepted; longer ones are counted as malformed.
MAX_FRAME = 1024 * 1024
# While the WAL is full and the store unreachable, a TCP batch is retried this often.
RETRY_SECONDS = 0.5
# At shutdown, how long connections may take to store what they have read.
STOP_SECONDS = 10.0


def project_grant(meta: MetaStore, project_id: str) -> KeyInfo:
    """The grant of a server-side listener that writes into one project (no key involved)."""
    project = meta.get_project(project_id)
    if project is None:
        raise TimberyardError(
            "NOT_FOUND",
            f"syslog project {project_id!r} does not exist: pass the id of a project"
            " (`timberyard init` prints one)",
        )
    return KeyInfo(
        key_id=f"syslog:{project_id}",
        kind="server",
        scopes=KEY_KINDS["server"][1],
        project_id=project_id,
        org_id=project["org_id"],
        project_active=bool(project["active"]),
        allowed_origins=(),
    )


class SyslogListener:
    """UDP and TCP syslog servers on one port, feeding one project's grant."""

    def __init__(
        self,
        ingestor: Ingestor,
        grant: Callable[[], KeyInfo],
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.ingestor = ingestor
        self._grant_of = grant
        self.host = host
        self.port = port
        self.tls = tls
        # A batch is what one read of a connection holds (or the datagrams queued), up to
        # the limit: the shippers' limit, not one HTTP request's, so that a stream is
        # stored in few large steps, each waiting once for the WAL.
        self.limits = limits or ingestor.limits
        self.counters = {
            "frames": 0,  # frames (or datagrams) received
            "entries": 0,  # entries stored
            "malformed": 0,  # frames that could not be framed or parsed
            "rejected": 0,  # entries refused by validation or the quota
            "dropped": 0,  # UDP datagrams dropped: queue full or pipeline unavailable
            "connections": 0,  # TCP connections open now
            "refused": 0,  # TCP connections closed on arrival: at the limit, or stopping
        }
        self._grant: KeyInfo | None = None
        self._tcp: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._udp_bytes = 0
        self._udp_task: asyncio.Task[None] | None = None
        self._connections: dict[asyncio.Task[Any], _Connection] = {}
        self._stopping = False

    def stats(self) -> dict[str, Any]:
        """Counters for /health and metrics."""
        return {"port": self.port, "tls": self.tls is not None, **self.counters}

    async def start(self) -> None:
        """Bind UDP and TCP on the port; raises if the project does not exist."""
        self._grant = self._grant_of()
        loop = asyncio.get_running_loop()
        self._tcp = await asyncio.start_server(
            self._serve_tcp, self.host, self.port, ssl=self.tls, limit=READ_BYTES
        )
        if self.port == 0:
            self.port = self._tcp.sockets[0].getsockname()[1]
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=(self.host, self.port)
        )
        self._udp = transport
        self._udp_task = asyncio.create_task(self._drain_udp(), name="syslog-udp")
        log.info("syslog listening on %s:%d (UDP and TCP)", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening, finish the batches in flight, close connections."""
        self._stopping = True
        if self._tcp is not None:
            self._tcp.close()
        # A connection waiting for data ends now; one storing what it read finishes
        # that first (cancelled only if it stalls). Ending the readers with feed_eof
        # instead would break the transports that still hold unread data.
        for task, connection in self._connections.items():
            if connection.reading:
                task.cancel()
        if self._connections:
            _, late = await asyncio.wait(list(self._connections), timeout=STOP_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._tcp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 5)
        if self._udp is not None:
            self._udp.close()
        if self._udp_task is not None:
            self._udp_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._udp_task

    # -- TCP --------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.counters["connections"] >= MAX_TCP_CONNECTIONS or self._stopping:
            self.counters["refused"] += 1
            writer.transport.abort()  # its descriptor is freed now; the sender retries
            return
        task = asyncio.current_task()
        connection = _Connection()
        if task is not None:
            self._connections[task] = connection
        self.counters["connections"] += 1
        framer = Framer(MAX_FRAME)
        counted = 0  # malformed frames of this connection already in the counters
        try:
            while not self._stopping:
                connection.reading = True
                try:
                    data = await reader.read(READ_BYTES)
                except asyncio.CancelledError:
                    if not self._stopping or task is None:
                        raise
                    task.uncancel()
                    break  # the listener stops: what was read is stored below
                finally:
                    connection.reading = False
                if not data:
                    break
                frames = framer.feed(data)
                if framer.malformed != counted:
                    self.counters["malformed"] += framer.malformed - counted
                    counted = framer.malformed
                if frames:
                    # Not reading while this is pending is the back-pressure.
                    await self._ingest(frames, retry=True)
            await self._ingest(framer.close(), retry=True)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.debug("syslog connection ended: %s", exc)
        except asyncio.CancelledError:
            pass
        except Exception:  # one connection's fault never reaches the listener
            log.exception("syslog connection failed; closing it")
        finally:
            self.counters["malformed"] += framer.malformed - counted
            self.counters["connections"] -= 1
            if task is not None:
                self._connections.pop(task, None)
            writer.close()

    # -- UDP --------------------------------------------------------------------

    def _datagram(self, data: bytes) -> None:
        if self._udp_bytes + len(data) > UDP_QUEUE_BYTES:
            self.counters["frames"] += 1
            self.counters["dropped"] += 1
            return
        self._udp_bytes += len(data)
        self._udp_queue.put_nowait(data)

    async def _drain_udp(self) -> None:
        queue = self._udp_queue
        while True:
            frames = [await queue.get()]
            while len(frames) < self.limits.max_entries and not queue.empty():
                frames.append(queue.get_nowait())
            try:
                await self._ingest([_strip_count(frame) for frame in frames], retry=False)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the drain die: count and go on
                log.exception("syslog UDP batch failed")
                self.counters["dropped"] += len(frames)
            finally:
                # Counted until stored, so the bound holds the batch in flight too.
                self._udp_bytes -= sum(len(frame) for frame in frames)

    # -- both -------------------------------------------------------------------

    async def _ingest(self, frames: list[bytes], *, retry: bool) -> None:
        """Parse frames and store their entries in batches of at most max_entries."""
        if not frames:
            return
        self.counters["frames"] += len(frames)
        entries, malformed = parse_frames(frames, self.ingestor.clock.now_ns())
        self.counters["malformed"] += malformed
        step = self.limits.max_entries
        for start in range(0, len(entries), step):
            await self._accept(entries[start : start + step], retry=retry)

    async def _accept(self, entries: list[Any], *, retry: bool) -> None:
        assert self._grant is not None
        while True:
            try:
                accepted = await self.ingestor.accept(
                    self._grant, entries, limits=self.limits, surface="syslog"
                )
            except TimberyardError as exc:
                if exc.code == "UNAVAILABLE" and retry and not self._stopping:
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if exc.code == "UNAVAILABLE":
                    self.counters["dropped"] += len(entries)
                else:
                    self.counters["rejected"] += len(entries)
                log.debug("syslog batch of %d refused: %s", len(entries), exc)
                return
            self.counters["entries"] += accepted.count
            self.counters["rejected"] += accepted.rejected
            return


class _Connection:
    """What the listener needs to know of one TCP connection to stop it cleanly."""

    __slots__ = ("reading",)

    def __init__(self) -> None:
        self.reading = False  # waiting for data (nothing read is pending)


class _Datagrams(asyncio.DatagramProtocol):
    """Hands each datagram to the listener's bounded queue."""

    def __init__(self, listener: SyslogListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.listener._datagram(data)


def _strip_count(datagram: bytes) -> bytes:
    """A datagram without the octet count some senders put in UDP too (`loggen --dgram`)."""
    if datagram[:1].isdigit():
        space = datagram.find(b" ", 0, 10)
        if space > 0 and datagram[:space].isdigit() and datagram[space + 1 : space + 2] == b"<":
            return datagram[space + 1 :]
    return datagram


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server TLS context for RFC 5425 syslog from PEM files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
