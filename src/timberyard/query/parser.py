"""Tokens -> AST by recursive descent; precedence NOT > AND > OR.

query   := [or]
or      := and ("OR" and)*
and     := unary (["AND"] unary)*        adjacent terms mean AND
unary   := ("NOT" | "-") unary | "+" unary | primary
primary := "(" or ")" | WORD | PHRASE | FIELD value
value   := "*" | CMP WORD | ("[" | "{") bound "TO" bound ("]" | "}") | WORD | PHRASE
"""

from __future__ import annotations

from . import lexer as lx
from .ast import All, And, Compare, Exists, Node, Not, Or, Range, Term
from .errors import QueryError, describe
from .fields import FieldSpec, Value, parse_value, resolve, spec_of
from .lexer import Token, show, tokenize
from .limits import MAX_CLAUSES, MAX_DEPTH, MAX_PATH_DEPTH, MAX_QUERY_LENGTH, MAX_VALUE_LENGTH

_TERM_START = frozenset({lx.TEXT, lx.FIELD, lx.LPAREN, lx.NOT, lx.MINUS, lx.PLUS})
_MESSAGE = spec_of("message")


def parse(query: str) -> Node:
    """The AST of a query; the empty query is All(). Raises QueryError."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(
            query,
            MAX_QUERY_LENGTH,
            f"query is {len(query)} characters long",
            f"at most {MAX_QUERY_LENGTH} characters",
        )
    for index, ch in enumerate(query):
        if "\ud800" <= ch <= "\udfff":
            raise QueryError(query, index, "invalid character", "text in UTF-8")
    return _Parser(query, tokenize(query)).parse()


class _Parser:
    def __init__(self, query: str, tokens: list[Token]) -> None:
        self.query = query
        self.tokens = tokens
        self.at = 0
        self.clauses = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, token: Token, expected: str) -> QueryError:
        return QueryError(self.query, token.pos, f"unexpected {show(token)}", expected)

    def parse(self) -> Node:
        if self.token.kind == lx.EOF:
            return All()
        node = self.or_(0)
        if self.token.kind != lx.EOF:
            raise self.fail(self.token, "a term, an operator or the end of the query")
        return node

    def or_(self, depth: int) -> Node:
        children = [self.and_(depth)]
        while self.token.kind == lx.OR:
            self.take()
            children.append(self.and_(depth))
        return _group(Or, children)

    def and_(self, depth: int) -> Node:
        children = [self.unary(depth)]
        while True:
            if self.token.kind == lx.AND:
                self.take()
            elif self.token.kind not in _TERM_START:
                break
            children.append(self.unary(depth))
        return _group(And, children)

    def unary(self, depth: int) -> Node:
        token = self.token
        if token.kind in (lx.NOT, lx.MINUS):
            self.take()
            self.check_depth(token, depth + 1)
            return Not(self.unary(depth + 1))
        if token.kind == lx.PLUS:
            self.take()
            return self.unary(depth)
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        token = self.take()
        if token.kind == lx.LPAREN:
            self.check_depth(token, depth + 1)
            if self.token.kind not in _TERM_START:
                raise self.fail(self.token, "a term")
            node = self.or_(depth + 1)
            if self.token.kind != lx.RPAREN:
                raise self.fail(self.token, 'an operator, a term or ")"')
            self.take()
            return node
        if token.kind == lx.TEXT:
            return self.leaf(token, self.term(_MESSAGE, token))
        if token.kind == lx.FIELD:
            return self.leaf(token, self.field(token))
        raise self.fail(token, "a term")

    def check_depth(self, token: Token, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise QueryError(
                self.query,
                token.pos,
                "query is nested too deeply",
                f"at most {MAX_DEPTH} levels of parentheses and NOT",
            )

    def leaf(self, token: Token, node: Node) -> Node:
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QueryError(
                self.query,
                token.pos,
                f"too many terms (more than {MAX_CLAUSES})",
                f"at most {MAX_CLAUSES} terms",
            )
        return node

    def field(self, name: Token) -> Node:
        spec = resolve(name.text)
        if spec is None and "." in name.text:
            keys = name.text.count(".")
            raise QueryError(
                self.query,
                name.pos,
                f"field path has {keys} keys",
                f"at most {MAX_PATH_DEPTH} keys",
            )
        if spec is None:
            raise QueryError(
                self.query,
                name.pos,
                f"unknown field {describe(name.text)}",
                "a field such as level, service, message, tag or fields.<key>"
                ' (quote text that contains ":" to search for it)',
            )
        token = self.take()
        if token.kind == lx.STAR:
            return Exists(spec.name)
        if token.kind == lx.TEXT:
            return self.term(spec, token)
        if not spec.comparable:
            raise QueryError(self.query, token.pos, f"cannot compare {spec.name}", "a plain value")
        if token.kind == lx.CMP:
            value = self.take()
            return Compare(spec.name, token.text, self.value(spec, value, ordered=True))
        if token.kind == lx.OPEN:
            return self.range(spec, token)
        raise self.fail(token, "a value")

    def term(self, spec: FieldSpec, token: Token) -> Node:
        if token.prefix and not spec.prefixable:
            raise QueryError(
                self.query,
                token.end - 1,
                'unexpected "*"',
                f"a value without a wildcard ({spec.name} has no prefix search)",
            )
        value = self.value(spec, token, ordered=False)
        if token.prefix and value == "":
            raise QueryError(self.query, token.pos, "empty prefix", "a word before the wildcard")
        return Term(spec.name, value, token.prefix)

    def range(self, spec: FieldSpec, opening: Token) -> Node:
        low = self.bound(spec)
        if self.token.kind != lx.TO:
            raise self.fail(self.token, '"TO"')
        self.take()
        high = self.bound(spec)
        closing = self.token
        if closing.kind != lx.CLOSE:
            raise self.fail(closing, '"]" or "}"')
        self.take()
        if low is None and high is None:
            return Exists(spec.name)
        return Range(spec.name, low, high, opening.text == "[", closing.text == "]")

    def bound(self, spec: FieldSpec) -> Value | None:
        token = self.take()
        if token.kind == lx.STAR:
            return None
        if token.kind != lx.TEXT:
            raise self.fail(token, "a range bound")
        return self.value(spec, token, ordered=True)

    def value(self, spec: FieldSpec, token: Token, *, ordered: bool) -> Value:
        if token.kind != lx.TEXT:
            raise self.fail(token, "a value")
        if ordered and token.prefix:
            raise QueryError(
                self.query, token.end - 1, 'unexpected "*"', "a value without a wildcard"
            )
        if len(token.text) > MAX_VALUE_LENGTH:
            raise QueryError(
                self.query,
                token.pos,
                f"value is {len(token.text)} characters long",
                f"at most {MAX_VALUE_LENGTH} characters",
            )
        try:
            return parse_value(spec, token.text, ordered=ordered)
        except ValueError as exc:
            shown = describe(token.text)
            raise QueryError(
                self.query, token.pos, f"invalid {spec.name} {shown}", str(exc)
            ) from None


def _group(kind: type[And] | type[Or], children: list[Node]) -> Node:
    """One child as is; several flattened into one And/Or."""
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return kind(tuple(flat))
