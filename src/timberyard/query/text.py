"""Full-text matching: the message index's tokens and an exact RE2 pattern.

The `message` text index tokenises `lower(message)` with splitByNonAlpha:
tokens are runs of ASCII letters and digits and of non-ASCII characters, and
only ASCII letters are lower-cased. Searches follow the same rules, so a word
matches case-insensitively for ASCII letters and exactly otherwise.
"""

from __future__ import annotations

# RE2 class of the characters that separate tokens (ASCII but not alphanumeric).
SEPARATOR = r"[\x{00}-\x{2f}\x{3a}-\x{40}\x{5b}-\x{60}\x{7b}-\x{7f}]"
# RE2 class of the whitespace a space in a phrase stands for.
WHITESPACE = r"[\t-\r ]+"

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def is_token_char(ch: str) -> bool:
    """Whether a character belongs to tokens (splitByNonAlpha keeps it)."""
    return not ch.isascii() or ch.isalnum()


def ascii_lower(text: str) -> str:
    """Text with ASCII letters lower-cased, like ClickHouse's lower()."""
    return text.translate(_ASCII_LOWER)


def tokens(text: str) -> list[str]:
    """The lower-cased tokens of text, in order, with repeats."""
    out: list[str] = []
    current: list[str] = []
    for ch in ascii_lower(text) + " ":
        if is_token_char(ch):
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    return out


def is_single_token(text: str) -> bool:
    """Whether text is exactly one token."""
    return bool(text) and all(is_token_char(ch) for ch in text)


def complete_tokens(text: str, prefix: bool) -> list[str]:
    """The distinct tokens a match contains whole; a prefix's last token may be partial."""
    found = tokens(text)
    if prefix and found and is_token_char(text[-1]):
        found.pop()
    return list(dict.fromkeys(found))


def pattern(text: str, prefix: bool) -> str:
    """An RE2 pattern for text at token boundaries, ASCII case-insensitive.

    A space stands for any run of whitespace. With `prefix`, the text may end
    inside a token.
    """
    out: list[str] = []
    if is_token_char(text[0]):
        out.append(f"(?:^|{SEPARATOR})")
    for ch in text:
        if ch == " ":
            out.append(WHITESPACE)
        elif not ch.isascii():
            out.append(ch)
        elif ch.isalpha():
            out.append(f"[{ch.lower()}{ch.upper()}]")
        elif ch.isdigit():
            out.append(ch)
        elif ch.isprintable():
            out.append("\\" + ch)
        else:
            out.append(f"\\x{{{ord(ch):02x}}}")
    if not prefix and is_token_char(text[-1]):
        out.append(f"(?:{SEPARATOR}|$)")
    return "".join(out)


def longest_literal(text: str) -> str:
    """The longest space-free piece of text, to prefilter rows by substring."""
    return max(text.split(" "), key=len)
