"""Frames between the workers and the owner: a 4-byte length, then a pickled value.

Pickle because both ends are processes of one `serve` on one machine, talking over
a Unix socket in the data folder that only its user can open (mode 0600 in a 0700
folder), and because store results hold dates, tuples and decimals that must come
back as they went. Nothing else may connect to the socket.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import struct
import threading
from pathlib import Path
from typing import Any

_LENGTH = struct.Struct("!I")
MAX_FRAME = 1 << 31  # an insert of a large WAL batch is tens of MiB; nothing is this large


def dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=5)


def socket_path(data_dir: Path) -> Path:
    """Where the owner listens: `<data>/run/store.sock` (the folder only its user reads)."""
    folder = data_dir / "run"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return (folder / "store.sock").resolve()


# -- blocking side (worker threads) -------------------------------------------


def _recv_exact(sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise ConnectionError("the store process closed the connection")
        got += n
    return buffer


class Channel:
    """A pool of blocking connections to the owner; `call` is safe from any thread."""

    def __init__(self, path: Path, timeout: float = 120.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        return sock

    def call(self, *request: Any) -> Any:
        """Send (op, *args) and return the owner's answer; OSError when it is unreachable."""
        with self._lock:
            sock = self._idle.pop() if self._idle else None
        if sock is None:
            sock = self._connect()
        try:
            data = dumps(request)
            sock.sendall(_LENGTH.pack(len(data)))
            sock.sendall(data)
            (size,) = _LENGTH.unpack(_recv_exact(sock, _LENGTH.size))
            answer = pickle.loads(_recv_exact(sock, size))
        except BaseException:
            sock.close()  # half a frame may be in flight: this connection is done
            raise
        with self._lock:
            self._idle.append(sock)
        return answer

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


# -- asyncio side (the owner, and the workers' hub stream) -----------------------


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next value, or EOFError at a clean end of the stream."""
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise EOFError from None
        raise ConnectionError("a frame header was cut short") from None
    (size,) = _LENGTH.unpack(header)
    if size >= MAX_FRAME:
        raise ConnectionError(f"a frame of {size} bytes is past the limit")
    try:
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        raise ConnectionError("a frame was cut short") from None


def frame(value: Any) -> bytes:
    data = dumps(value)
    return _LENGTH.pack(len(data)) + data
