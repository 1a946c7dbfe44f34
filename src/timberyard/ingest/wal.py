"""The write-ahead log: append-only segments of checksummed records, fsynced in groups.

A record holds one request's canonical rows ready to be inserted: a ClickHouse
Native block (segments marked TYWAL002) or JSONEachRow text (TYWAL001, what
earlier versions and a build without the compiled fast path write). Records
carry increasing sequence numbers; `checkpoint.json` says
which have reached the entry store and which batch was being inserted, so a
restart replays the rest and retries that batch with its deduplication token.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

import msgspec

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<IIQ")  # payload length, crc32 of payload, sequence number
# Segment header -> the insert format of its records.
MAGICS: dict[bytes, str] = {b"TYWAL001": "JSONEachRow", b"TYWAL002": "Native"}
_MAGIC_OF = {fmt: magic for magic, fmt in MAGICS.items()}
_MAGIC_SIZE = 8


def rows_in(payload: bytes, fmt: str) -> int:
    """How many rows a record's payload holds."""
    if fmt == "JSONEachRow":
        return payload.count(b"\n")
    # Native: varuint column count, then varuint row count (one block per record).
    position = 0
    for _ in range(2):
        value = shift = 0
        while True:
            byte = payload[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
    return value


@dataclass
class Record:
    """One committed record: its sequence number, row count and where its payload is.

    The payload stays on disk (in the page cache while it is fresh) until the
    flusher reads it back: memory holds positions, not the rows waiting for the store.
    """

    seq: int
    rows: int
    path: Path
    offset: int
    length: int
    fmt: str


def read_records(records: list[Record]) -> Iterator[bytes]:
    """The payloads of records, read back from their segments in order (any process)."""
    handle: BinaryIO | None = None
    path: Path | None = None
    try:
        for record in records:
            if record.path != path:
                if handle is not None:
                    handle.close()
                path = record.path
                handle = path.open("rb")
            assert handle is not None
            handle.seek(record.offset)
            payload = handle.read(record.length)
            if len(payload) != record.length:
                raise OSError(f"wal segment {path} ends inside record {record.seq}")
            yield payload
    finally:
        if handle is not None:
            handle.close()


class Checkpoint(msgspec.Struct):
    """What reached the store: everything up to `flushed`, and the batches in flight:
    the first in `pending_*` (as earlier versions wrote it), the others after it in
    `pending_after` as (first, last, token), in sequence order."""

    flushed: int = 0
    pending_first: int = 0
    pending_last: int = 0
    pending_token: str = ""
    pending_after: list[tuple[int, int, str]] = []

    def pending(self) -> list[tuple[int, int, str]]:
        """Every batch in flight, (first, last, token), oldest first."""
        if self.pending_last <= self.flushed:
            return []
        first = (self.pending_first, self.pending_last, self.pending_token)
        return [first, *((int(a), int(b), str(t)) for a, b, t in self.pending_after)]

    @classmethod
    def of(cls, flushed: int, pending: list[tuple[int, int, str]]) -> Checkpoint:
        if not pending:
            return cls(flushed=flushed)
        (first, last, token), *after = pending
        return cls(flushed, first, last, token, list(after))


class WriteAheadLog:
    """Segments `seg-<first seq>.wal` in a folder, plus `checkpoint.json`."""

    def __init__(
        self, folder: Path, segment_bytes: int = 64 * 1024 * 1024, fmt: str = "JSONEachRow"
    ) -> None:
        if fmt not in _MAGIC_OF:
            raise ValueError(f"unknown WAL record format {fmt!r}")
        self.folder = folder
        self.segment_bytes = segment_bytes
        self.fmt = fmt
        self.next_seq = 1
        self._file: BinaryIO | None = None
        self._file_path: Path | None = None
        self._file_size = 0
        self._segments: list[tuple[int, Path]] = []  # (first seq, path), oldest first
        self._lock_handle: TextIO | None = None

    # -- start-up -----------------------------------------------------------

    def open(self, wait: float = 30.0) -> tuple[Checkpoint, list[Record]]:
        """Scan the folder; returns the checkpoint and the records not yet flushed.

        Takes the folder's lock first (waiting up to `wait` seconds): two processes
        appending to one log would lose records.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock(wait)
        checkpoint = self.read_checkpoint()
        pending: list[Record] = []
        paths = sorted(self.folder.glob("seg-*.wal"))
        last_seq = checkpoint.flushed
        for index, path in enumerate(paths):
            first = int(path.stem.split("-", 1)[1])
            self._segments.append((first, path))
            is_last = index == len(paths) - 1
            for record in self._read_segment(path, truncate_tail=is_last):
                last_seq = max(last_seq, record.seq)
                if record.seq > checkpoint.flushed:
                    pending.append(record)
        self.next_seq = last_seq + 1
        self._start_segment()
        self.drop_flushed(checkpoint.flushed)
        return checkpoint, pending

    def _read_segment(self, path: Path, truncate_tail: bool) -> Iterator[Record]:
        data = path.read_bytes()
        fmt = MAGICS.get(data[:_MAGIC_SIZE])
        if fmt is None:
            log.warning("wal segment %s has no header; ignoring it", path)
            return
        offset = _MAGIC_SIZE
        good_end = offset
        while offset + _HEADER.size <= len(data):
            length, crc, seq = _HEADER.unpack_from(data, offset)
            start = offset + _HEADER.size
            end = start + length
            if end > len(data):
                break
            payload = data[start:end]
            if zlib.crc32(payload) != crc:
                break
            yield Record(seq, rows_in(payload, fmt), path, start, length, fmt)
            offset = good_end = end
        if good_end < len(data):
            # A torn write at the tail: the request that wrote it never got its 200.
            log.warning(
                "wal segment %s: dropping %d torn bytes at the end", path, len(data) - good_end
            )
            if truncate_tail:
                with path.open("r+b") as handle:
                    handle.truncate(good_end)
                    handle.flush()
                    os.fsync(handle.fileno())

    # -- appending (called from the writer thread) ---------------------------

    def _start_segment(self) -> None:
        if self._file is not None:
            self._file.close()
        path = self.folder / f"seg-{self.next_seq:020d}.wal"
        self._file = path.open("ab")
        if self._file.tell() <= _MAGIC_SIZE:
            # New, or left with a header and no record: (re)mark it with this format.
            self._file.truncate(0)
            self._file.write(_MAGIC_OF[self.fmt])
        self._file_path = path
        self._file_size = self._file.tell()
        if not self._segments or self._segments[-1][1] != path:
            self._segments.append((self.next_seq, path))
        self._sync_folder()

    def write(self, payloads: list[bytes], rows: list[int] | None = None) -> list[Record]:
        """Append one record per payload (in this log's format) and fsync once.

        `rows` gives each payload's row count (else it is read from the payload).
        """
        assert self._file is not None and self._file_path is not None
        if self._file_size >= self.segment_bytes:
            self._start_segment()
        records = []
        chunks = []
        position = self._file_size
        for index, payload in enumerate(payloads):
            seq = self.next_seq
            self.next_seq += 1
            chunks.append(_HEADER.pack(len(payload), zlib.crc32(payload), seq))
            chunks.append(payload)
            position += _HEADER.size
            count = rows[index] if rows is not None else rows_in(payload, self.fmt)
            records.append(
                Record(seq, count, self._file_path, position, len(payload), self.fmt)
            )
            position += len(payload)
        blob = b"".join(chunks)
        try:
            self._file.write(blob)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            # Leave no torn record behind for the next append to follow.
            self.next_seq -= len(payloads)
            self._file.truncate(self._file_size)
            raise
        self._file_size += len(blob)
        return records

    def read(self, records: list[Record]) -> Iterator[bytes]:
        """The payloads of records, read back from their segments in order."""
        return read_records(records)

    # -- checkpoints and clean-up --------------------------------------------

    def read_checkpoint(self) -> Checkpoint:
        path = self.folder / "checkpoint.json"
        if not path.exists():
            return Checkpoint()
        try:
            return msgspec.json.decode(path.read_bytes(), type=Checkpoint)
        except (msgspec.DecodeError, OSError) as exc:
            raise RuntimeError(f"cannot read {path}: {exc}; the write-ahead log needs it") from exc

    def write_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint atomically and durably."""
        path = self.folder / "checkpoint.json"
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(msgspec.json.encode(checkpoint))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        self._sync_folder()

    def drop_flushed(self, flushed: int) -> None:
        """Delete whole segments whose records have all reached the store."""
        keep: list[tuple[int, Path]] = []
        for index, (first, path) in enumerate(self._segments):
            following = self._segments[index + 1][0] if index + 1 < len(self._segments) else None
            if following is not None and following - 1 <= flushed and path != self._file_path:
                path.unlink(missing_ok=True)
            else:
                keep.append((first, path))
        self._segments = keep

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _lock(self, wait: float) -> None:
        handle = (self.folder / "lock").open("a")
        deadline = time.monotonic() + wait
        warned = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    raise RuntimeError(
                        f"the write-ahead log in {self.folder} is in use by another process"
                        " (another `timberyard serve` on this data folder?); stop it first"
                    ) from None
                if not warned:
                    log.warning("waiting for the write-ahead log in %s to be free", self.folder)
                    warned = True
                time.sleep(0.1)
        self._lock_handle = handle

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock_handle is not None:
            self._lock_handle.close()  # releases the lock
            self._lock_handle = None
