"""Error-group titles and fingerprints."""

from __future__ import annotations

import re

import pytest

from timberyard.alerts import fingerprint, normalise_message

NORMALISED = [
    ("User 123 failed at /app/x.js:42 'abc'", "User <num> failed at <path> <str>"),
    ('key "user:42" missing', "key <str> missing"),
    ("can't open `cfg`", "can't open <str>"),
    ("mail to a.b+x@example.com bounced", "mail to <email> bounced"),
    ("GET https://api.example.com/v1/u?id=3 failed", "GET <url> failed"),
    ("req 550e8400-e29b-41d4-a716-446655440000 done", "req <uuid> done"),
    ("from 10.0.0.12:5432", "from <ip>"),
    ("peer ::1 and fe80::1ff:fe23:4567:890a", "peer <ip> and <ip>"),
    ("at 2024-01-15T10:30:00.123Z", "at <time>"),
    ("ptr 0x7ffeefbff5c8", "ptr <hex>"),
    ("commit 9ac3442211637d76", "commit <hex>"),
    ("order ord8F3kd92x", "order <id>"),
    ("customer usr_9XkQ2mZp7", "customer usr_<id>"),
    (r"open C:\Users\bob\a.txt", "open <path>"),
    ("see ./rel/x and ~/y and src/app.py:10:3", "see <path> and <path> and <path>"),
    ("read/write and/or a / b", "read/write and/or a / b"),
    (
        "[checkout] Payment callback failed: missing transId (orderId=25000233)",
        "[checkout] Payment callback failed: missing transId (orderId=<num>)",
    ),
    ("took 12.5ms\n\n  retrying   3 times", "took <num>ms retrying <num> times"),
    ("deadbeef is a word", "deadbeef is a word"),
]


@pytest.mark.parametrize(("message", "title"), NORMALISED)
def test_normalise_message(message: str, title: str) -> None:
    assert normalise_message(message) == title


@pytest.mark.parametrize(("message", "title"), NORMALISED)
def test_normalising_twice_changes_nothing(message: str, title: str) -> None:
    assert normalise_message(title) == title


def test_fingerprint_is_short_stable_hex() -> None:
    fp = fingerprint("api", "TypeError", "User 1 failed")
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert fp == fingerprint("api", "TypeError", "User 1 failed")


def test_variable_parts_share_a_fingerprint() -> None:
    a = fingerprint("api", "TypeError", "User 123 failed at /app/x.js:42 'abc'")
    b = fingerprint("api", "TypeError", "User 98765 failed at /srv/y.js:7 'other'")
    assert a == b


@pytest.mark.parametrize(
    "other",
    [
        ("web", "TypeError", "User 1 failed"),
        ("api", "RangeError", "User 1 failed"),
        ("api", "TypeError", "Order 1 failed"),
        (None, "TypeError", "User 1 failed"),
    ],
)
def test_service_error_name_and_text_separate_groups(other: tuple[str | None, str, str]) -> None:
    assert fingerprint(*other) != fingerprint("api", "TypeError", "User 1 failed")


def test_a_huge_message_is_fingerprinted_by_its_head() -> None:
    head = "boom " * 1000
    assert fingerprint("a", None, head + "x" * 100_000) == fingerprint("a", None, head + "y" * 10)
