"""Query text -> tokens, each located by its 0-based position.

The lexer is modal. Between terms it reads words, phrases, operators and
parentheses; after `field:` it reads one value (or a comparison operator, a
range's opening bracket or `*`); after a comparison operator, one value;
inside `[a TO b]`, the bounds, `TO` and the closing bracket.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import QueryError, describe
from .fields import FIELD_NAME, JSON_ROOTS

# Token kinds.
LPAREN, RPAREN = "(", ")"
AND, OR, NOT, TO = "AND", "OR", "NOT", "TO"
MINUS, PLUS = "-", "+"
TEXT = "TEXT"  # a word or quoted phrase (between terms, or as a value)
FIELD = "FIELD"  # `name:`; text holds the name as typed
CMP = "CMP"  # > >= < <=
OPEN, CLOSE = "OPEN", "CLOSE"  # [ { and ] }
STAR = "STAR"  # a lone `*` as a value: exists, or an open range bound
EOF = "EOF"

KEYWORDS = frozenset({AND, OR, NOT})

_TERM, _VALUE, _BOUND, _RANGE = "term", "value", "bound", "range"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: kind, position, and for words the unescaped text."""

    kind: str
    pos: int
    text: str = ""
    quoted: bool = False
    prefix: bool = False  # a trailing unescaped `*`
    end: int = 0


def show(token: Token) -> str:
    """How a token is named in an error message."""
    if token.kind == EOF:
        return "end of query"
    if token.kind == TEXT and token.quoted:
        return describe('"' + token.text + '"')
    if token.kind == FIELD:
        return describe(token.text + ":")
    return describe(token.text or token.kind)


def tokenize(query: str) -> list[Token]:
    """The tokens of a query, ending with EOF; raises QueryError."""
    return _Lexer(query).run()


class _Lexer:
    def __init__(self, query: str) -> None:
        self.query = query
        self.i = 0
        self.tokens: list[Token] = []

    def fail(self, pos: int, problem: str, expected: str) -> QueryError:
        return QueryError(self.query, pos, problem, expected)

    def unexpected(self, pos: int, expected: str) -> QueryError:
        if pos >= len(self.query):
            return self.fail(pos, "unexpected end of query", expected)
        ch = self.query[pos]
        shown = "whitespace" if ch.isspace() else describe(ch)
        return self.fail(pos, f"unexpected {shown}", expected)

    def emit(self, kind: str, pos: int, text: str = "", **flags: bool) -> None:
        self.tokens.append(Token(kind, pos, text, end=self.i, **flags))

    def run(self) -> list[Token]:
        mode = _TERM
        n = len(self.query)
        while True:
            if mode != _VALUE and mode != _BOUND:
                self.skip_space()
            if self.i >= n and mode in (_TERM, _RANGE):
                self.emit(EOF, n)
                return self.tokens
            if mode == _TERM:
                mode = self.term()
            elif mode == _RANGE:
                mode = self.bound_in_range()
            else:
                mode = self.value(after_cmp=mode == _BOUND)

    def skip_space(self) -> None:
        q = self.query
        while self.i < len(q) and q[self.i].isspace():
            self.i += 1

    def term(self) -> str:
        q, start = self.query, self.i
        ch = q[start]
        if ch in "()":
            self.i += 1
            self.emit(LPAREN if ch == "(" else RPAREN, start, ch)
            return _TERM
        if ch in "-+":
            nxt = q[start + 1] if start + 1 < len(q) else ""
            if not nxt or nxt.isspace() or nxt == ")":
                raise self.unexpected(start + 1, f'a term right after "{ch}"')
            self.i += 1
            self.emit(MINUS if ch == "-" else PLUS, start, ch)
            return _TERM
        if ch == '"':
            self.quoted(start)
            return _TERM
        word = self.bare(start, stops='()"', fields=True)
        if word is None:
            return _VALUE
        text, escaped, prefix = word
        if not escaped and not prefix and text in KEYWORDS:
            self.emit(text, start, text)
        else:
            self.emit(TEXT, start, text, prefix=prefix)
        return _TERM

    def value(self, after_cmp: bool) -> str:
        """One value after `field:` (or after `field:>`)."""
        self.skip_space()
        q, start = self.query, self.i
        expected = "a value"
        if start >= len(q):
            raise self.unexpected(start, expected)
        ch = q[start]
        if ch in "<>" and not after_cmp:
            op = ch + "=" if q.startswith("=", start + 1) else ch
            self.i += len(op)
            self.emit(CMP, start, op)
            return _BOUND
        if ch in "[{" and not after_cmp:
            self.i += 1
            self.emit(OPEN, start, ch)
            return _RANGE
        if ch == '"':
            self.quoted(start)
            return _TERM
        if ch in "()=<>[]{}":
            raise self.unexpected(start, expected)
        if ch == "*" and self.ends_value(start + 1, "()"):
            if after_cmp:
                raise self.unexpected(start, expected)
            self.i += 1
            self.emit(STAR, start, "*")
            return _TERM
        text, escaped, prefix = self.plain(start, stops='()"')
        if not escaped and not prefix and text in KEYWORDS:
            raise self.fail(start, f"unexpected {describe(text)}", expected)
        self.emit(TEXT, start, text, prefix=prefix)
        return _TERM

    def bound_in_range(self) -> str:
        """A bound, `TO` or the closing bracket inside `[a TO b]`."""
        q, start = self.query, self.i
        ch = q[start]
        if ch in "]}":
            self.i += 1
            self.emit(CLOSE, start, ch)
            return _TERM
        if ch == '"':
            self.quoted(start)
            return _RANGE
        if ch in "()[{":
            raise self.unexpected(start, 'a range bound, "TO", "]" or "}"')
        if ch == "*" and self.ends_value(start + 1, "]}"):
            self.i += 1
            self.emit(STAR, start, "*")
            return _RANGE
        text, escaped, prefix = self.plain(start, stops='()"[]{}')
        if not escaped and not prefix and text == TO:
            self.emit(TO, start, TO)
        else:
            self.emit(TEXT, start, text, prefix=prefix)
        return _RANGE

    def ends_value(self, pos: int, stops: str) -> bool:
        q = self.query
        return pos >= len(q) or q[pos].isspace() or q[pos] in stops

    def plain(self, start: int, stops: str) -> tuple[str, bool, bool]:
        """Read an unquoted value, where `name:` is not a field."""
        word = self.bare(start, stops, fields=False)
        assert word is not None  # only fields=True reads a field name
        return word

    def bare(self, start: int, stops: str, fields: bool) -> tuple[str, bool, bool] | None:
        """Read an unquoted word: (text, used escapes, trailing `*`), or None for `field:`."""
        q, i, n = self.query, start, len(self.query)
        out: list[str] = []
        escaped = prefix = False
        while i < n:
            ch = q[i]
            if ch.isspace() or ch in stops:
                break
            if ch == "\\":
                if i + 1 >= n:
                    raise self.unexpected(i + 1, 'a character after "\\"')
                out.append(q[i + 1])
                escaped = True
                i += 2
                continue
            if ch == ":" and fields and not escaped and _is_field(q, start, i):
                self.i = i + 1
                self.emit(FIELD, start, q[start:i])
                return None
            if ch == "*":
                if not self.ends_value(i + 1, stops):
                    raise self.fail(i, 'unexpected "*"', 'a wildcard "*" only at the end of a word')
                prefix = True
                i += 1
                break
            out.append(ch)
            i += 1
        self.i = i
        if not out:
            if prefix:
                raise self.fail(start, 'unexpected "*"', 'a word before the wildcard "*"')
            raise self.unexpected(i, "a word")
        return "".join(out), escaped, prefix

    def quoted(self, start: int) -> None:
        """Read a "quoted phrase" with backslash escapes, and an optional `*`."""
        q, i, n = self.query, start + 1, len(self.query)
        out: list[str] = []
        while True:
            if i >= n:
                raise self.fail(start, "unterminated quote", 'a closing quote (")')
            ch = q[i]
            if ch == "\\":
                if i + 1 >= n:
                    raise self.fail(start, "unterminated quote", 'a closing quote (")')
                out.append(q[i + 1])
                i += 2
                continue
            if ch == '"':
                i += 1
                break
            out.append(ch)
            i += 1
        prefix = i < n and q[i] == "*"
        if prefix:
            i += 1
        self.i = i
        self.emit(TEXT, start, "".join(out), quoted=True, prefix=prefix)


def _is_field(query: str, start: int, colon: int) -> bool:
    """Whether `name:` at start..colon is a field, not part of a word.

    Dotted names outside `fields.`/`data.`/`details.` (`example.com:443`) and
    URLs (`http://`) are words; any other name is a field, known or not.
    """
    name = query[start:colon]
    if not FIELD_NAME.fullmatch(name) or query.startswith("//", colon + 1):
        return False
    root, dot, _ = name.partition(".")
    return not dot or root.lower() in JSON_ROOTS
