"""AST -> a ClickHouse boolean expression over `logs` with bound parameters.

Every value from the query travels as a server-side parameter (`{p0:String}`);
the SQL text holds only fixed SQL, column names and placeholders. The
expression is meant for WHERE (or PREWHERE): there ClickHouse answers message
searches from the `message` text index, whose lower() preprocessor makes them
case-insensitive. Evaluated elsewhere (a SELECT list, `countIf`, or with
`use_skip_indexes = 0`) message searches skip that preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import msgspec

from ..model import SEVERITY
from .ast import LEAVES, All, And, Compare, Exists, Node, Not, Or, Range, Term
from .fields import FieldSpec, Kind, Value, is_number, is_pair_guarded, pair_text, spec_of
from .text import complete_tokens, is_single_token, longest_literal, pattern

_JSON_NUMBER = "IN ('Int64', 'UInt64', 'Double')"
# Parameter types by column, then by field kind.
_PARAM_TYPES = {
    "severity": "UInt8",
    "step_index": "UInt16",
    "id": "UInt64",
    Kind.KEYWORD.value: "String",
    Kind.TIME.value: "Int64",
}
# Columns that every entry has, so `field:*` is always true.
_ALWAYS = (Kind.LEVEL, Kind.TIME, Kind.ID)


def compile(node: Node) -> tuple[str, dict[str, Any]]:
    """The SQL condition for a query AST and its parameters; the empty query is "1"."""
    compiler = _Compiler()
    sql, _ = compiler.expr(node)
    return sql, compiler.params


def referenced_fields(node: Node) -> set[str]:
    """The canonical names of the fields a query reads (`message` for bare words)."""
    return {leaf.field for leaf in _leaves(node)}  # type: ignore[attr-defined]


def _leaves(node: Node) -> Iterator[Node]:
    if isinstance(node, LEAVES):
        yield node
    elif isinstance(node, Not):
        yield from _leaves(node.child)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _leaves(child)


def _all(parts: list[str]) -> str:
    """Conditions joined by AND, parenthesised when there are several."""
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


class _Compiler:
    """Compiles one AST, collecting its parameters p0, p1, ..."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.placeholders: dict[tuple[str, str], str] = {}

    def bind(self, value: Any, kind: str) -> str:
        """The placeholder for a value; an equal value of the same type shares one."""
        key = (kind, repr(value))
        if key not in self.placeholders:
            name = f"p{len(self.params)}"
            self.params[name] = value
            self.placeholders[key] = f"{{{name}:{kind}}}"
        return self.placeholders[key]

    def expr(self, node: Node) -> tuple[str, bool]:
        """(sql, atomic): atomic SQL needs no parentheses after NOT."""
        if isinstance(node, All):
            return "1", True
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) else " OR "
            parts = []
            for child in node.children:
                sql, _ = self.expr(child)
                parts.append(f"({sql})" if isinstance(child, And | Or) else sql)
            return joiner.join(parts), False
        if isinstance(node, Not):
            sql, atomic = self.expr(node.child)
            return (f"NOT {sql}" if atomic else f"NOT ({sql})"), False
        if isinstance(node, Term):
            return self.term(spec_of(node.field), node.value, node.prefix)
        if isinstance(node, Compare):
            return self.compare(spec_of(node.field), [(node.op, node.value)])
        if isinstance(node, Range):
            bounds: list[tuple[str, Value]] = []
            if node.low is not None:
                bounds.append((">=" if node.include_low else ">", node.low))
            if node.high is not None:
                bounds.append(("<=" if node.include_high else "<", node.high))
            return self.compare(spec_of(node.field), bounds)
        if isinstance(node, Exists):
            return self.exists(spec_of(node.field))
        raise TypeError(f"not a query node: {node!r}")

    def term(self, spec: FieldSpec, value: Value, prefix: bool) -> tuple[str, bool]:
        """field:value and field:value*."""
        col, kind = spec.column, spec.kind
        if kind is Kind.TEXT:
            return self.text(col, str(value), prefix), True
        if kind is Kind.JSON:
            return self.either_path(spec, lambda s: self.json_term(s, str(value), prefix)), True
        if kind is Kind.TAGS:
            if prefix:
                return (
                    f"arrayExists(tag -> startsWith(tag, {self.bind(value, 'String')}), tags)",
                    True,
                )
            return f"has(tags, {self.bind(value, 'String')})", True
        if prefix:
            return f"startsWith({col}, {self.bind(value, 'String')})", True
        return self.compare(spec, [("=", value)])

    def text(self, col: str, text: str, prefix: bool) -> str:
        """Whole-token, ASCII case-insensitive search of a text column."""
        parts = []
        indexed = complete_tokens(text, prefix) if col == "message" else []
        if indexed:
            parts.append(f"hasAllTokens(message, {self.bind(indexed, 'Array(String)')})")
        if not indexed or prefix or not is_single_token(text):
            if not indexed:
                literal = self.bind(longest_literal(text), "String")
                parts.append(f"positionCaseInsensitive({col}, {literal}) > 0")
            parts.append(f"match({col}, {self.bind(pattern(text, prefix), 'String')})")
        return _all(parts)

    def compare(self, spec: FieldSpec, bounds: list[tuple[str, Value]]) -> tuple[str, bool]:
        """One comparison per bound (=, >, >=, <, <=), all of which must hold."""
        kind = spec.kind
        if kind is Kind.JSON:
            return self.either_path(spec, lambda s: self.json_compare(s, bounds)), True
        col = spec.column
        if kind is Kind.LEVEL:
            # By severity, also for `=`: the partition key splits errors from the rest
            # by severity, so ClickHouse skips the parts a level condition excludes.
            col, bounds = "severity", [(op, SEVERITY[str(value)]) for op, value in bounds]
        param_type = _PARAM_TYPES.get(col) or _PARAM_TYPES[kind.value]
        parts = []
        for op, value in bounds:
            rhs = self.bind(value, param_type)
            if kind is Kind.TIME:
                rhs = f"fromUnixTimestamp64Nano({rhs})"
            parts.append(f"{col} {op} {rhs}")
        if col == "step_index":
            # A missing step index compares as false, also under NOT.
            return f"ifNull({' AND '.join(parts)}, 0)", True
        return _all(parts), len(parts) > 1

    def exists(self, spec: FieldSpec) -> tuple[str, bool]:
        """field:* -- present and not empty."""
        kind = spec.kind
        if kind in _ALWAYS or spec.name == "severity":
            return "1", True
        if kind is Kind.JSON:
            return (
                self.either_path(
                    spec, lambda s: _all([self.key_guard(s), f"JSONHas(fields, {self.path(s)})"])
                ),
                True,
            )
        if kind is Kind.TAGS:
            return "notEmpty(tags)", True
        if spec.name == "step_index":
            return "isNotNull(step_index)", True
        return f"{spec.column} != ''", False

    def either_path(self, spec: FieldSpec, condition: Callable[[FieldSpec], str]) -> str:
        """`fields.a.b` names the nested path a -> b, or a top-level key spelt `a.b`.

        Shippers send dotted attribute names as flat keys (`http.method` in OTLP,
        Loki and ECS documents), so both spellings of a path match.
        """
        if len(spec.path) == 1:
            return condition(spec)
        flat = replace(spec, path=(".".join(spec.path),))
        return f"({condition(spec)} OR {condition(flat)})"

    def json_compare(self, spec: FieldSpec, bounds: list[tuple[str, Value]]) -> str:
        """Every bound holds for a JSON number at the path."""
        key = self.key_guard(spec)
        path = self.path(spec)
        parts = [key, f"JSONType(fields, {path}) {_JSON_NUMBER}"]
        for op, value in bounds:
            number = self.bind(float(value), "Float64")
            parts.append(f"JSONExtractFloat(fields, {path}) {op} {number}")
        return _all(parts)

    def json_term(self, spec: FieldSpec, value: str, prefix: bool) -> str:
        """fields.x:value matches that string, or that number; fields.x:val* a string prefix."""
        if not prefix and is_pair_guarded(spec.path, value):
            # A top-level key whose value can only be this string: `"key":"value"`
            # is in the stored text, one test instead of two, and far more selective.
            needle = self.bind(pair_text(spec.path[0], value), "String")
            path, text = self.path(spec), self.bind(value, "String")
            return _all(
                [f"position(fields, {needle}) > 0", f"JSONExtractString(fields, {path}) = {text}"]
            )
        key = self.key_guard(spec)
        guards = [key]
        if prefix or not is_number(value):
            # The value as the stored JSON spells it, quotes left out so that a
            # string "true" and the literal true both pass the guard.
            needle = self.bind(_json_text(value)[1:-1], "String")
            guards.append(f"position(fields, {needle}) > 0")
        path = self.path(spec)
        text = self.bind(value, "String")
        if prefix:
            return _all([*guards, f"startsWith(JSONExtractString(fields, {path}), {text})"])
        same = f"JSONExtractString(fields, {path}) = {text}"
        if not is_number(value):
            return _all([*guards, same])
        number = self.bind(float(value), "Float64")
        return _all(
            [
                key,
                f"({same} OR (JSONType(fields, {path}) {_JSON_NUMBER}"
                f" AND JSONExtractFloat(fields, {path}) = {number}))",
            ]
        )

    def key_guard(self, spec: FieldSpec) -> str:
        """A substring test for the path's last key: cheap, and it skips most rows
        before any JSON is parsed (`fields` is stored as canonical msgspec JSON)."""
        return f"position(fields, {self.bind(_json_text(spec.path[-1]) + ':', 'String')}) > 0"

    def path(self, spec: FieldSpec) -> str:
        """The JSON path as bound key parameters: `{p0:String}, {p1:String}`."""
        return ", ".join(self.bind(key, "String") for key in spec.path)


def _json_text(value: str) -> str:
    """A string as the stored JSON spells it (msgspec: no spaces, UTF-8 kept)."""
    return msgspec.json.encode(value).decode()
