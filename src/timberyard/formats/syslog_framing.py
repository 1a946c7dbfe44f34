"""RFC 6587 framing of syslog over a byte stream: octet counting, LF and NUL trailers.

Each frame is detected on its own, as RFC 6587 section 3.4 suggests: a frame
that starts with a digit is octet-counted (`MSG-LEN SP SYSLOG-MSG`), anything
else runs to the next LF or NUL (non-transparent framing; Python's
`SysLogHandler` ends frames with NUL even over TCP). Senders differ in details
this decoder tolerates:

- an octet count that includes a trailing LF (rsyslog, syslog-ng) or not
  (util-linux `logger --octet-count`): a trailer left at the end of a counted
  frame is dropped, and LF, CR, NUL and spaces between frames are skipped;
- CRLF trailers: the CR is dropped with the LF;
- multi-line messages in NUL-terminated frames (Python's `SysLogHandler`
  sends `<11>first\nsecond\0` in one write): an LF that no frame start (`<`,
  a digit, a trailer byte) follows is part of the message when a NUL comes in
  the data read so far, within 16 KiB, before any LF that a frame start follows.

Malformed input is counted and skipped, never fatal: a count past
`max_frame`, or a non-transparent frame longer than `max_frame`, is
discarded up to the next LF or NUL and reading goes on. At the end of the
stream an unterminated non-transparent frame is delivered, an incomplete
counted one (a count larger than the data) is counted as malformed.
"""

from __future__ import annotations

_DIGITS = b"0123456789"
_BETWEEN = b"\n\r\x00 \t"
# How far past an LF a NUL trailer is looked for (a longer multi-line message is split).
_LOOKAHEAD = 16 * 1024
# Bytes that can follow an LF that ends a frame: the start of the next frame or a trailer.
_AFTER_LF = frozenset(b"<0123456789\n\r\x00")
# Longest MSG-LEN accepted, in digits (a count above `max_frame` is refused anyway).
_MAX_DIGITS = 9


class Framer:
    """Incremental decoder: `feed` bytes as they arrive, get whole frames back."""

    def __init__(self, max_frame: int = 1024 * 1024) -> None:
        self.max_frame = max_frame
        self.malformed = 0
        self._buffer = bytearray()
        self._skipping = False  # discarding an oversized frame up to its trailer

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by `data`, without trailers (octet counts stripped)."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        pos = 0
        end = len(buffer)
        while pos < end:
            if self._skipping:
                stop = _trailer(buffer, pos)
                if stop < 0:
                    pos = end
                    break
                self._skipping = False
                pos = stop + 1
                continue
            byte = buffer[pos]
            if byte in _BETWEEN:
                pos += 1
                continue
            if byte in _DIGITS:
                space = buffer.find(b" ", pos, pos + _MAX_DIGITS + 1)
                digits = buffer[pos:space] if space > 0 else b""
                if space > 0 and digits.isdigit():
                    length = int(digits)
                    if length > self.max_frame:
                        self.malformed += 1
                        self._skipping = True
                        pos = space + 1
                        continue
                    if space + 1 + length > end:
                        break  # wait for the rest of the frame
                    frame = bytes(buffer[space + 1 : space + 1 + length])
                    pos = space + 1 + length
                    frames.append(frame.rstrip(b"\r\n\x00"))
                    continue
                if space < 0 and end - pos <= _MAX_DIGITS and buffer[pos:end].isdigit():
                    break  # a count still arriving
            stop = _trailer(buffer, pos)
            if stop < 0:
                if end - pos > self.max_frame:
                    self.malformed += 1
                    self._skipping = True
                    pos = end
                break
            if stop - pos > self.max_frame:
                self.malformed += 1
            else:
                frames.append(bytes(buffer[pos:stop]).rstrip(b"\r"))
            pos = stop + 1
        del buffer[:pos]
        return frames

    def close(self) -> list[bytes]:
        """The last frame of a stream that ended without a trailer, if it is whole."""
        rest = bytes(self._buffer).strip(_BETWEEN)
        self._buffer.clear()
        if not rest or self._skipping:
            return []
        if rest[:1].isdigit():
            space = rest.find(b" ")
            if 0 < space <= _MAX_DIGITS and rest[:space].isdigit():
                self.malformed += 1  # a count larger than the data that came
                return []
        if len(rest) > self.max_frame:
            self.malformed += 1
            return []
        return [rest]

    @property
    def pending(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buffer)


def _trailer(buffer: bytearray, pos: int) -> int:
    """Offset of the NUL or LF that ends the frame starting at `pos`, or -1 if not yet come."""
    end = len(buffer)
    lf = buffer.find(b"\n", pos)
    nul = buffer.find(b"\x00", pos, lf if lf >= 0 else end)
    if nul >= 0 or lf < 0:
        return nul
    after = lf + 1
    if after >= end or buffer[after] in _AFTER_LF:
        return lf
    # An LF that no frame follows: part of a NUL-terminated multi-line message if
    # a NUL comes before any LF that a frame follows; else a frame of its own.
    # The look-ahead is bounded so that garbage lines cost linear time.
    nul = buffer.find(b"\x00", after, after + _LOOKAHEAD)
    if nul >= 0 and buffer.find(b"\n<", after, nul) < 0:
        return nul
    return lf
