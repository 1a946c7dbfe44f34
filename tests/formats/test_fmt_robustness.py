"""Bad input: parsers only ever raise ParseError, and never take more than linear time.

Hypothesis feeds every format random bytes, syntax-heavy soups and mutations of
valid bodies; explicit cases cover invalid UTF-8, NUL bytes, 1 MB lines and
pathological lines that would make a backtracking pattern explode.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timberyard.errors import ParseError, ValidationIssue
from timberyard.formats import FORMATS, parser
from timberyard.formats.detect import sniff
from timberyard.model import normalise

NOW = 1_705_320_000_000_000_000  # 2024-01-15T12:00:00Z
PARSED = ("json", "jsonl", "syslog", "text", "csv", "obl")
LINE_BASED = ("jsonl", "syslog", "text", "csv")
VECTORS = Path(__file__).parent / "vectors"
MB = 1024 * 1024

SEEDS: dict[str, list[bytes]] = {
    "json": [
        b'{"logs": [{"level": "info", "message": "User signed in", "source": "api-server",'
        b' "environment": "production", "data": {"userId": "user_123"}}]}',
        b'[{"message": "a", "tags": ["x"]}, {"message": "b", "timestamp": 1705312200000}]',
        b'{"message": "single", "level": "error"}',
    ],
    "jsonl": [
        b'{"level":"error","message":"Connection refused","source":"api",'
        b'"environment":"production"}\n'
        b'{"level":"info","message":"Request completed","source":"api",'
        b'"environment":"production"}',
    ],
}
for _name in ("syslog", "text", "csv", "obl"):
    SEEDS[_name] = [
        vector["body"].encode()
        for vector in json.loads((VECTORS / f"{_name}.json").read_text(encoding="utf-8"))
        if vector["body"]
    ]

# Characters that matter to each grammar, so random soups hit the interesting paths.
SYNTAX = {
    "json": '{}[]":,\\ \n0123456789.eE+-truefalsn"logs"message',
    "jsonl": '{}[]":,\\ \n\r0123456789.-truenl',
    "syslog": '<>0123456789 -[]"\\=:TZ.+\nJanFeb@abc\ufeff\r',
    "text": "0123456789-: T.,Z+/[]()<>|ERRORwarningInfoDEBUG\n\r\t ",
    "csv": 'level,message\t"\n\r ,"x""y"timestamp,data.',
    "obl": '/*{}[]":, \n"format""open-board-log-0.1""sessions""events""type""button"',
}

PROFILE = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# msgspec raises UnicodeDecodeError for invalid UTF-8 in a string and RecursionError
# for deep nesting; the JSON parsers must turn both into ParseError.
DEEP_JSON = b"[" * 100_000


def run(name: str, body: bytes) -> None:
    """Parse a body; anything but success or ParseError fails the test."""
    try:
        parsed = parser(name)(body, NOW)
    except ParseError as exc:
        assert isinstance(exc.message, str) and exc.message
        assert exc.line is None or exc.line >= 1
        return
    assert isinstance(parsed.entries, list)
    if name in LINE_BASED and name != "jsonl":
        assert parsed.lines is not None and len(parsed.lines) == len(parsed.entries)
        assert parsed.lines == sorted(set(parsed.lines))
        assert all(isinstance(entry, dict) for entry in parsed.entries)
    for entry in parsed.entries[:50]:
        # Whatever a parser produces, normalisation accepts it or says why not.
        try:
            normalise(entry, now_ns=NOW)
        except ValidationIssue:
            pass


def mutate(seed: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply (position, deleted length, inserted bytes) edits to a seed."""
    body = bytearray(seed)
    for position, length, insert in edits:
        at = position % (len(body) + 1)
        body[at : at + length] = insert
    return bytes(body)


TOKENS = [b'"', b"\\", b"\n", b"[", b"]", b"*/", b"/*", b","]
EDITS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=8),
        st.binary(max_size=6) | st.sampled_from(TOKENS),
    ),
    min_size=1,
    max_size=6,
)


@pytest.mark.parametrize("name", PARSED)
@PROFILE
@given(body=st.binary(max_size=512))
def test_random_bytes_raise_only_parse_error(name: str, body: bytes) -> None:
    run(name, body)


@pytest.mark.parametrize("name", PARSED)
@PROFILE
@given(data=st.data())
def test_syntax_soup_raises_only_parse_error(name: str, data: st.DataObject) -> None:
    text = data.draw(st.text(alphabet=SYNTAX[name], max_size=300))
    run(name, text.encode())


@pytest.mark.parametrize("name", PARSED)
@PROFILE
@given(data=st.data())
def test_mutated_valid_bodies_raise_only_parse_error(name: str, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS[name]))
    run(name, mutate(seed, data.draw(EDITS)))


@PROFILE
@given(body=st.binary(max_size=512) | st.text(alphabet="".join(SYNTAX.values())).map(str.encode))
def test_sniff_always_names_a_format(body: bytes) -> None:
    assert sniff(body) in FORMATS


# --- invalid UTF-8 and NUL bytes -------------------------------------------------

BAD_UTF8 = b"caf\xe9 \xff\xfe \xc3\x28 \xed\xa0\x80 end"
# Each invalid sequence becomes U+FFFD (a surrogate's three bytes make three).
REPLACED = "caf\ufffd \ufffd\ufffd \ufffd( \ufffd\ufffd\ufffd end"


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("syslog", b"<14>1 - h app - - - " + BAD_UTF8),
        ("syslog", b"<14>Jan 15 10:30:00 h app: " + BAD_UTF8),
        ("text", b"2024-01-15 10:30:00 INFO " + BAD_UTF8),
        ("csv", b"message,level\n" + BAD_UTF8 + b",info"),
    ],
)
def test_invalid_utf8_is_replaced_in_line_formats(name: str, body: bytes) -> None:
    assert parser(name)(body, NOW).entries[0]["message"] == REPLACED


@pytest.mark.parametrize(
    "body",
    [
        b'{"sessions": [{"events": [{"type": "note", "text": "' + BAD_UTF8 + b'"}]}]}',
        b'{"sessions": [{"events": [{"type": "note", "\xff": 1}]}]}',
        b'{"sessions": ' + b"[" * 100_000,
    ],
)
def test_invalid_utf8_and_deep_nesting_are_parse_errors_in_obl(body: bytes) -> None:
    with pytest.raises(ParseError, match="invalid JSON"):
        parser("obl")(body, NOW)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("json", b'{"message": "' + BAD_UTF8 + b'"}'),
        ("json", b'{"\x80": 1}'),
        ("json", DEEP_JSON),
        ("jsonl", b'{"message": "ok"}\n{"message": "' + BAD_UTF8 + b'"}'),
        ("jsonl", b'{"message": "ok"}\n' + DEEP_JSON),
    ],
)
def test_json_parsers_raise_only_parse_error(name: str, body: bytes) -> None:
    with pytest.raises(ParseError):
        parser(name)(body, NOW)


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("syslog", b"<14>1 - h app - - - a\x00b", "a\x00b"),
        ("syslog", b"<14>Jan 15 10:30:00 h app: a\x00b", "a\x00b"),
        ("text", b"ERROR a\x00b", "a\x00b"),
        ("csv", b"message\na\x00b", "a\x00b"),
        ("json", b'{"message": "a\\u0000b"}', "a\x00b"),
    ],
)
def test_nul_bytes_are_kept_in_messages(name: str, body: bytes, message: str) -> None:
    assert parser(name)(body, NOW).entries[0]["message"] == message


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("syslog", b"<14>1 - h a\x00pp - - - x"),
        ("syslog", b"\x00<14>1 - - - - - - x"),
        ("csv", b"mess\x00age,level\nx,info"),
        ("json", b'{"message": "a\x00b"}'),
        ("jsonl", b'{"message": "a\x00b"}'),
        ("obl", b'\x00{"sessions": []}'),
        ("text", b"\x00\x00\x00"),
    ],
)
def test_nul_bytes_anywhere_raise_only_parse_error(name: str, body: bytes) -> None:
    run(name, body)


# --- 1 MB lines -------------------------------------------------------------------

BIG = "x" * MB


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("syslog", f"<14>1 2024-01-15T10:30:00Z h app - - - {BIG}\n<14>1 - - - - - - next", BIG),
        ("syslog", f"<14>Jan 15 10:30:00 h app[1]: {BIG}", BIG),
        ("text", f"2024-01-15 10:30:00 ERROR {BIG}\nnext", BIG),
        ("csv", f'message,level\n"{BIG}",error\nnext,info', BIG),
        ("jsonl", f'{{"message": "{BIG}"}}\n{{"message": "next"}}', BIG),
        ("json", f'{{"logs": [{{"message": "{BIG}"}}]}}', BIG),
        ("obl", f'{{"sessions": [{{"events": [{{"text": "{BIG}"}}]}}]}}', "event: " + BIG),
    ],
)
def test_one_megabyte_lines_parse(name: str, body: str, message: str) -> None:
    parsed = parser(name)(body.encode(), NOW)
    assert parsed.entries[0]["message"] == message


# Lines built to make backtracking patterns explode, about 1 MB each.
PATHOLOGICAL: dict[str, list[bytes]] = {
    "syslog": [
        b"<14>1 " + b"a " * (MB // 2),
        b"<14>1 " + b"a" * MB,
        b"<14>1 - h a - - [x" + b' a="' + b'\\"' * (MB // 2),
        b"<14>1 - h a - - " + b'[x a="b"]' * (MB // 9) + b"x",
        b"<14>1 - h a - - [x" + b' a="b"' * (MB // 6),
        b"<14>1 - h a - - [" + b"=" * MB,
        b"<" + b"1" * MB,
        b"<14>Jan 15 10:30:00 " + b"a[" * (MB // 2),
        b"<14>Jan 15 10:30:00 " + b"a" * MB + b"[",
        b"<14>Jan 15 10:30:00 h " + b"a:" * (MB // 2),
        b"<14>" + b"a[1]" * (MB // 4),
        b"<14>" + b" " * MB,
        b"<14>Jan 15 10:30:00" + b" " * MB,
    ],
    "text": [
        b"2024-01-15 " * (MB // 11),
        b"[" * MB,
        b"[ " * (MB // 2),
        b"ERROR " * (MB // 6),
        b"1" * MB,
        b" " * MB + b"x",
        b"2024-01-15 10:30:00" + b" " * MB + b"ERROR x",
        b"[2024-01-15 10:30:00" + b"-" * MB,
    ],
    "csv": [
        b"level,message\n" + b'"' + b'""' * (MB // 2),
        b"level,message\n" + b"," * MB,
        b"," * MB + b"\nx",
        b"message\n" + b'"a"' * (MB // 3),
        b"message\tlevel\n" + b"\t" * MB,
        b"message\n" + b"\r" * MB,
    ],
    "obl": [
        b"/*" + b"*" * MB,
        b"/*" * (MB // 2),
        b"/**/" * (MB // 4) + b"{}",
        b"[" * MB,
        b'{"sessions": [{"events": [' + b'{"type": "button", "label": 1},' * (MB // 32) + b"{}]}]}",
    ],
    "json": [b"[" * MB, b'{"a":' * (MB // 5), b'"' + b"\\" * MB, b"[" + b"1," * (MB // 2) + b"1]"],
    "jsonl": [b"{" * MB, b"[" * MB, b'{"message": "x"}\n' * (MB // 17), b"\n" * MB],
}
# Bodies that would slow down or break content sniffing.
SNIFF_PATHOLOGICAL = [
    b'{"a": ' + b"[" * MB + b'\n{"b": 1}',
    b'{"format"' + b" " * MB,
    b'{"format"' * (MB // 9),
    b"\xff" * MB,
    b"a,message" + b",b" * (MB // 2),
    b"/*" + b"*" * MB,
]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        pytest.param(name, body, id=f"{name}-{index}")
        for name, bodies in PATHOLOGICAL.items()
        for index, body in enumerate(bodies)
    ],
)
def test_pathological_megabyte_parses_in_linear_time(name: str, body: bytes) -> None:
    started = time.perf_counter()
    run(name, body)
    assert sniff(body) in FORMATS
    # Linear work on 1 MB takes milliseconds; a quadratic pattern would take minutes.
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("body", SNIFF_PATHOLOGICAL)
def test_pathological_megabyte_sniffs_in_linear_time(body: bytes) -> None:
    started = time.perf_counter()
    assert sniff(body) in FORMATS
    assert time.perf_counter() - started < 2.0


def test_unterminated_inputs_are_located() -> None:
    cases: list[tuple[str, bytes, int]] = [
        ("syslog", b'<14>1 - - - - - - ok\n<14>1 - h a - - [id k="v', 2),
        ("csv", b'message\nok\n"open', 3),
        ("obl", b"\n\n/* never closed", 3),
        ("jsonl", b'{"message": "ok"}\n{"message": "open', 2),
    ]
    for name, body, line in cases:
        with pytest.raises(ParseError) as caught:
            parser(name)(body, NOW)
        assert caught.value.line == line, name


@pytest.mark.parametrize("name", PARSED)
@PROFILE
@given(data=st.data(), limit=st.integers(min_value=0, max_value=4))
def test_an_entry_limit_gives_a_prefix_or_a_parse_error(
    name: str, data: st.DataObject, limit: int
) -> None:
    # Stopping at the limit never turns a ParseError into a crash, and what it
    # returns is the start of the full result.
    seed = data.draw(st.sampled_from(SEEDS[name]))
    body = mutate(seed, data.draw(EDITS)) if data.draw(st.booleans()) else seed
    try:
        limited = parser(name)(body, NOW, max_entries=limit)
    except ParseError:
        return
    try:
        full = parser(name)(body, NOW)
    except ParseError:
        # The error lies past the point where the limited parse stopped.
        assert limited.truncated
        return
    assert limited.truncated == (len(full.entries) > limit)
    assert limited.entries == full.entries[: len(limited.entries)]
    assert len(limited.entries) == min(len(full.entries), limit + 1)


@PROFILE
@given(
    frames=st.lists(
        st.binary(max_size=200)
        | st.text(alphabet=SYNTAX["syslog"], max_size=200).map(str.encode)
        | st.sampled_from(SEEDS["syslog"]),
        max_size=20,
    )
)
def test_syslog_frames_never_raise(frames: list[bytes]) -> None:
    # The network listener's parse: bad frames are counted, never raised.
    from timberyard.formats.syslog import parse_frames

    entries, malformed = parse_frames(frames, NOW)
    assert malformed <= len(frames) and len(entries) + malformed <= len(frames)
    for entry in entries:
        try:
            normalise(entry, now_ns=NOW)
        except ValidationIssue:
            pass


@settings(max_examples=300, deadline=None)
@given(cell=st.from_regex(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?[Zz]?\Z"))
def test_csv_canonical_timestamps_skip_the_text_parser_unchanged(cell: str) -> None:
    """The CSV parser's shortcut for ISO 8601 UTC cells gives what the text format's
    timestamp parser gives (or the cell itself where that parser declines)."""
    from timberyard.formats import csv_
    from timberyard.formats.text import timestamp

    entry = csv_.parse(f"timestamp,message\n{cell},m\n".encode()).entries[0]
    assert entry["timestamp"] == (timestamp(cell) or cell)
