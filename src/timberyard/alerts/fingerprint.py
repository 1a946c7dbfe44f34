"""Error groups: normalised message titles and stable fingerprints."""

from __future__ import annotations

import functools
import hashlib
import re

# Only the head of a message decides its group: messages that differ after
# this many characters fold together, and a 64 KiB message costs no more
# to fingerprint than a short one.
FINGERPRINT_CHARS = 2048

# Order matters: the wider shapes go first so that their parts (the digits of
# an IP, the hex of a UUID, the slashes of a URL) are not replaced piecemeal.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, flags), token)
    for pattern, flags, token in (
        # Quoted values: 'abc', "abc", `abc` (not the apostrophe of "can't").
        (r"(?<!\w)'(?:[^'\\\n]|\\.)*'(?!\w)", 0, "<str>"),
        (r'(?<!\w)"(?:[^"\\\n]|\\.)*"(?!\w)', 0, "<str>"),
        (r"(?<!\w)`(?:[^`\\\n]|\\.)*`(?!\w)", 0, "<str>"),
        (r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.I, "<url>"),
        (r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b", 0, "<email>"),
        (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I, "<uuid>"),
        (
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?\b",
            0,
            "<time>",
        ),
        # Absolute, home, relative-dot and Windows paths, with :line:column.
        (
            r"(?<![\w.:/\\<])(?:[A-Za-z]:\\|\.{1,2}/|~/|/)[\w.@~+%-]+(?:[/\\][\w.@~+%-]+)*"
            r"(?::\d+)*",
            0,
            "<path>",
        ),
        # Relative paths that name a file: src/app.py:10.
        (r"(?<![\w./<])[\w.-]+(?:/[\w.-]+)+\.[A-Za-z]\w*(?::\d+)*", 0, "<path>"),
        (r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b", 0, "<ip>"),
        (
            r"(?<![\w:])(?=[0-9a-f:]*::|(?:[0-9a-f]{1,4}:){7})(?:[0-9a-f]{0,4}:){2,7}"
            r"[0-9a-f]{0,4}(?![\w:])",
            re.I,
            "<ip>",
        ),
        (r"\b0x[0-9a-f]+\b", re.I, "<hex>"),
        # Hex runs with at least one digit and one letter: hashes, object ids.
        (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I, "<hex>"),
        # Mixed letters and digits, 8+ long with 2+ digits: generated ids.
        (
            r"(?<![A-Za-z0-9])(?=(?:[A-Za-z]*\d){2})(?=\d*[A-Za-z])[A-Za-z0-9]{8,}(?![A-Za-z0-9])",
            0,
            "<id>",
        ),
        (r"\d+(?:\.\d+)*", 0, "<num>"),
        (r"\s+", 0, " "),
    )
)


def normalise_message(message: str) -> str:
    """The message with its variable parts replaced by placeholders: a group's title."""
    text = message
    for pattern, token in _RULES:
        text = pattern.sub(token, text)
    return text.strip()


@functools.lru_cache(maxsize=8192)
def group_title(message: str) -> str:
    """The title of the group a message belongs to: its normalised head.

    Cached: an error storm repeats the same messages, and ingestion computes
    the title of every error it accepts.
    """
    return normalise_message(message[:FINGERPRINT_CHARS])


def fingerprint(service: str | None, error_name: str | None, message: str) -> str:
    """A short stable hex id of the group that an error belongs to."""
    return fingerprint_of_title(service, error_name, group_title(message))


def fingerprint_of_title(service: str | None, error_name: str | None, title: str) -> str:
    """The fingerprint for an already computed group title."""
    key = "\x1f".join(((service or "").strip(), (error_name or "").strip(), title))
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
