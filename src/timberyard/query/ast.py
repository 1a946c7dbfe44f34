"""The query AST; every node prints its canonical form, which re-parses to it.

Canonical form: field names are the canonical snake_case names (`session_id`,
`step_index`, `tag`, `fields.a.b`); bare words search the message and print
without `message:`; operators are upper case and explicit (`a AND b`, `NOT a`);
parentheses appear only where precedence needs them; values are printed bare
when that is unambiguous and in double quotes otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fields import Value, format_value, spec_of

_KEYWORDS = frozenset({"AND", "OR", "NOT", "TO"})
_UNSAFE = frozenset('()"\\*[]{}<>=')


class Node:
    """A node of the query AST."""

    def canonical(self) -> str:
        """The canonical query text of this node."""
        raise NotImplementedError


@dataclass(frozen=True)
class All(Node):
    """The empty query: every entry."""

    def canonical(self) -> str:
        return ""


@dataclass(frozen=True)
class Term(Node):
    """`field:value` (or a bare word on the message); `prefix` for `value*`."""

    field: str
    value: Value
    prefix: bool = False

    def canonical(self) -> str:
        star = "*" if self.prefix else ""
        if self.field == "message":
            return quote(str(self.value), in_value=False) + star
        return f"{self.field}:{_value(self.field, self.value)}{star}"


@dataclass(frozen=True)
class Compare(Node):
    """`field:>value`, `>=`, `<`, `<=`."""

    field: str
    op: str
    value: Value

    def canonical(self) -> str:
        return f"{self.field}:{self.op}{_value(self.field, self.value)}"


@dataclass(frozen=True)
class Range(Node):
    """`field:[low TO high]`; a None bound is open (`*`); `{}` excludes a bound."""

    field: str
    low: Value | None
    high: Value | None
    include_low: bool = True
    include_high: bool = True

    def canonical(self) -> str:
        low = "*" if self.low is None else _value(self.field, self.low)
        high = "*" if self.high is None else _value(self.field, self.high)
        left = "[" if self.include_low else "{"
        right = "]" if self.include_high else "}"
        return f"{self.field}:{left}{low} TO {high}{right}"


@dataclass(frozen=True)
class Exists(Node):
    """`field:*`: the field is present and not empty."""

    field: str

    def canonical(self) -> str:
        return f"{self.field}:*"


@dataclass(frozen=True)
class Not(Node):
    """`NOT child` (also written `-child`)."""

    child: Node

    def canonical(self) -> str:
        inner = self.child.canonical()
        return f"NOT ({inner})" if isinstance(self.child, And | Or) else f"NOT {inner}"


@dataclass(frozen=True)
class And(Node):
    """Every child matches (`a AND b`, or `a b`)."""

    children: tuple[Node, ...]

    def canonical(self) -> str:
        return " AND ".join(
            f"({child.canonical()})" if isinstance(child, Or) else child.canonical()
            for child in self.children
        )


@dataclass(frozen=True)
class Or(Node):
    """Some child matches (`a OR b`)."""

    children: tuple[Node, ...]

    def canonical(self) -> str:
        return " OR ".join(child.canonical() for child in self.children)


LEAVES = (Term, Compare, Range, Exists)


def _value(field: str, value: Value) -> str:
    return quote(format_value(spec_of(field), value), in_value=True)


def quote(text: str, *, in_value: bool) -> str:
    """Text as it is written in a query: bare when unambiguous, else quoted."""
    bare = (
        bool(text)
        and text not in _KEYWORDS
        and not any(ch.isspace() or ch in _UNSAFE for ch in text)
        and (in_value or (":" not in text and text[0] not in "-+"))
    )
    if bare:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
