"""RFC 6587 framing: tables of byte streams, each fed whole and split at every point."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timberyard.formats.syslog_framing import Framer

A = b"<14>1 - h app - - - one"
B = b"<13>Jan 15 10:30:00 h app: two"
C = b"<11>three"

# (name, stream, frames, malformed)
CASES: list[tuple[str, bytes, list[bytes], int]] = [
    ("octet counting without trailer (logger --octet-count)",
     b"%d %s%d %s" % (len(A), A, len(B), B), [A, B], 0),
    ("octet count including a trailing LF (rsyslog, syslog-ng)",
     b"%d %s\n%d %s\n" % (len(A) + 1, A, len(B) + 1, B), [A, B], 0),
    ("octet count excluding an LF sent after it", b"%d %s\n%d %s\n" % (len(A), A, len(B), B), [A, B], 0),
    ("LF framing", A + b"\n" + B + b"\n", [A, B], 0),
    ("CRLF framing", A + b"\r\n" + B + b"\r\n", [A, B], 0),
    ("NUL framing (Python SysLogHandler)", A + b"\x00" + B + b"\x00", [A, B], 0),
    ("mixed per frame", b"%d %s" % (len(A), A) + B + b"\n" + C + b"\x00", [A, B, C], 0),
    ("a counted frame may hold LF and NUL", b"%d %s" % (len(A) + 4, A + b"\nx\x00y"), [A + b"\nx\x00y"], 0),
    ("empty frames and blank lines between frames are skipped", b"\n\n\x00" + A + b"\n\n\r\n" + B + b"\n", [A, B], 0),
    ("the last LF frame without a trailer is delivered at the end", A + b"\n" + B, [A, B], 0),
    ("a count larger than the data is malformed at the end", A + b"\n" + b"100 <14>short", [A], 1),
    ("a count past the frame limit is malformed; reading goes on after its line",
     b"99999999 garbage here\n" + A + b"\n", [A], 1),
    ("digits without a space are an LF frame (the parser judges it)", b"12345\n" + A + b"\n", [b"12345", A], 0),
    ("garbage frames are frames: framing never fails", b"\xff\xfe garbage\n" + A + b"\x00", [b"\xff\xfe garbage", A], 0),
    ("an LF frame past the limit is malformed and skipped", b"<14>" + b"x" * 300 + b"\n" + A + b"\n", [A], 1),
    ("a zero count is an empty frame", b"0 " + A + b"\n", [b"", A], 0),
]  # fmt: skip


def run(stream: bytes, cuts: list[int], max_frame: int = 200) -> tuple[list[bytes], int]:
    framer = Framer(max_frame)
    frames: list[bytes] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        frames += framer.feed(stream[previous:cut])
        previous = cut
    frames += framer.close()
    return frames, framer.malformed


@pytest.mark.parametrize(("name", "stream", "frames", "malformed"), CASES, ids=[c[0] for c in CASES])
def test_frames_whole_and_split_anywhere(
    name: str, stream: bytes, frames: list[bytes], malformed: int
) -> None:
    assert run(stream, []) == (frames, malformed)
    for cut in range(1, len(stream)):
        assert run(stream, [cut]) == (frames, malformed), cut
    # Byte by byte, as the slowest sender would deliver it.
    assert run(stream, list(range(1, len(stream)))) == (frames, malformed)


def test_an_lf_inside_a_nul_terminated_frame_is_part_of_the_message() -> None:
    # Python's SysLogHandler sends a multi-line record in one write, ending in NUL.
    stream = b"<11>app: first\nsecond line\x00" + A + b"\x00<11>x\n  indented\x00"
    assert run(stream, []) == ([b"<11>app: first\nsecond line", A, b"<11>x\n  indented"], 0)


def test_a_million_frames_on_one_stream() -> None:
    frame = b"%d %s\n" % (len(A) + 1, A)
    framer = Framer()
    total = 0
    chunk = frame * 10_000
    for _ in range(100):
        total += len(framer.feed(chunk))
    assert total == 1_000_000 and framer.pending == 0 and framer.malformed == 0


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(
        st.binary(min_size=1, max_size=40).filter(lambda b: b[:1] == b"<" or b"<" not in b),
        max_size=8,
    ),
    counted=st.lists(st.booleans(), min_size=8, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_counted_frames_round_trip_split_anywhere(
    frames: list[bytes], counted: list[bool], cuts: list[int]
) -> None:
    # Octet-counted frames come back exactly, however the stream is cut; LF frames
    # whose content has no trailer byte come back too.
    stream = b""
    expected: list[bytes] = []
    for frame, count in zip(frames, counted, strict=False):
        body = b"<" + frame.lstrip(b"\n\r\x00 \t<0123456789")
        if count:
            stream += b"%d %s" % (len(body), body)
            expected.append(body.rstrip(b"\r\n\x00"))
        else:
            body = body.replace(b"\n", b" ").replace(b"\x00", b" ").rstrip(b"\r")
            stream += body + b"\n"
            expected.append(body)
    got, malformed = run(stream, sorted(c for c in cuts if c < len(stream)), max_frame=1000)
    assert malformed == 0
    assert got == expected


def test_garbage_lines_are_framed_in_linear_time() -> None:
    # Lines that no frame start follows make the framer look ahead for a NUL; the
    # look-ahead is bounded, so a megabyte of them costs no more than a few passes.
    framer = Framer()
    started = time.perf_counter()
    frames = framer.feed(b"garbage line\n" * 80_000 + b"\x00")
    # Only the lines within the look-ahead of the final NUL join its frame.
    assert len(frames) > 78_000 and len(frames[-1]) < 17 * 1024
    assert time.perf_counter() - started < 2.0
