"""Cutting inputs into request bodies: case tables for the pure chunking functions."""

from __future__ import annotations

import json

import pytest

from timberyard.cli.chunks import guess_format, line_chunks, records, whole_chunks


def numbered(text: bytes) -> list[tuple[int, bytes]]:
    return list(enumerate(text.splitlines(keepends=True), 1))


@pytest.mark.parametrize(
    ("name", "first", "expected"),
    [
        ("app.jsonl", b"", "jsonl"),
        ("app.ndjson.gz", b"", "jsonl"),
        ("export.json", b'{"a": 1}', "json"),
        ("rows.tsv", b"", "csv"),
        ("device.obl", b"", "obl"),
        ("app.log", b'{"message": "x"}', "jsonl"),
        ("app.log", b"{", "json"),
        ("app.log", b'[{"message": 1}]', "json"),
        ("messages", b"<34>Jan 15 10:30:00 host su: x", "syslog"),
        ("-", b"2024-01-15 10:30:00 ERROR boom", "text"),
    ],
)
def test_guess_format(name: str, first: bytes, expected: str) -> None:
    assert guess_format(name, first) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # (input, [(start line, record bytes)]) — blank lines never become records.
        (b"a,b\n1,2\n\n3,4", [(1, b"a,b\n"), (2, b"1,2\n"), (4, b"3,4\n")]),
        (b'a,b\n1,"x\ny"\n2,z\n', [(1, b"a,b\n"), (2, b'1,"x\ny"\n'), (4, b"2,z\n")]),
        (b'a,b\n1,"say ""hi""\nthere"\n', [(1, b"a,b\n"), (2, b'1,"say ""hi""\nthere"\n')]),
        # A quote inside an unquoted field is a character, not the start of a field.
        (b'a,b\n1,5" screen\n2,x\n', [(1, b"a,b\n"), (2, b'1,5" screen\n'), (3, b"2,x\n")]),
        (b'a\tb\n1\t"x\ty\nz"\n', [(1, b"a\tb\n"), (2, b'1\t"x\ty\nz"\n')]),
    ],
)
def test_csv_records(text: bytes, expected: list[tuple[int, bytes]]) -> None:
    got = [(r.line, r.data) for r in records(numbered(text), "csv") if r is not None]
    assert got == expected


def test_line_chunks_respect_count_and_size_and_keep_the_csv_header() -> None:
    text = b"level,message\n" + b"".join(b"info,m%d\n" % i for i in range(25))
    chunks = list(line_chunks(records(numbered(text), "csv"), "f.csv", "csv", max_entries=10))
    assert [c.count for c in chunks] == [10, 10, 5]
    assert all(c.body().startswith(b"level,message\n") for c in chunks)
    assert chunks[1].body().splitlines()[1] == b"info,m10"
    small = list(
        line_chunks(records(numbered(b"aaaa\nbbbb\ncccc\n"), "text"), "t", "text", max_bytes=10)
    )
    assert [c.count for c in small] == [2, 1]


def test_a_tick_sends_what_is_waiting() -> None:
    items = [(1, b"a\n"), None, None, (2, b"b\n"), (3, b"c\n")]
    chunks = list(line_chunks(records(items, "text"), "-", "text"))
    assert [c.body() for c in chunks] == [b"a\n", b"b\nc\n"]


def test_server_lines_and_indexes_map_back_to_the_file() -> None:
    text = b'level,message\n\ninfo,one\ninfo,"two\nlines"\ninfo,three\n'
    chunk = next(line_chunks(records(numbered(text), "csv"), "f.csv", "csv"))
    assert chunk.body() == b'level,message\ninfo,one\ninfo,"two\nlines"\ninfo,three\n'
    # Body lines: 1 header, 2 one, 3-4 two, 5 three.
    assert [chunk.locate(line) for line in (1, 2, 3, 4, 5)] == [
        "f.csv:1",
        "f.csv:3",
        "f.csv:4",
        "f.csv:4",
        "f.csv:6",
    ]
    assert chunk.locate(index=2) == "f.csv:6"
    rest = chunk.without(chunk.record_at(3))  # type: ignore[arg-type]
    assert rest is not None and rest.body() == b"level,message\ninfo,one\ninfo,three\n"
    assert rest.locate(3) == "f.csv:6"
    assert chunk.span() == "f.csv:3-6"


@pytest.mark.parametrize(
    ("document", "sizes", "raw"),
    [
        ([{"message": str(i)} for i in range(25)], [10, 10, 5], False),
        ({"logs": [{"message": "a"}, {"message": "b"}]}, [2], False),
        ({"entries": [{"message": "a"}]}, [1], False),
        ({"message": "one"}, [1], False),
        ({"resourceLogs": []}, [0], True),
        ({"logs": [{"message": "a"}], "meta": 1}, [0], True),
    ],
)
def test_json_documents_are_split_into_logs_bodies(
    document: object, sizes: list[int], raw: bool
) -> None:
    data = json.dumps(document).encode()
    chunks = list(whole_chunks(data, "e.json", "json", max_entries=10))
    assert [c.count for c in chunks] == sizes
    assert all(c.raw == raw for c in chunks)
    if not raw:
        bodies = [json.loads(c.body()) for c in chunks]
        assert all(list(b) == ["logs"] for b in bodies)
        assert chunks[-1].locate(index=0).startswith("e.json: entry ")
    else:
        assert chunks[0].body() == data


def test_malformed_json_is_sent_as_it_is() -> None:
    chunks = list(whole_chunks(b'{"logs": [', "bad.json", "json"))
    assert len(chunks) == 1 and chunks[0].raw and chunks[0].body() == b'{"logs": ['
