"""AST -> a Python predicate over one canonical row, with the semantics of the SQL compiler.

    match = matcher(parse("level:>=warn fields.status:500"))
    match(row)   # True when `WHERE compile(node)` would select the stored row

Rows are the dicts the ingestion pipeline produces: storage column names,
`ts_ns` and `received_ms` for the instants, `fields` as JSON text, optional
columns absent. A missing column reads as ClickHouse's default (empty string,
empty array, NULL step index), as it does once stored.

Full text is matched on the UTF-8 bytes with ASCII letters lower-cased, which
is what `lower()` and the token-boundary RE2 pattern see: tokens are runs of
ASCII letters and digits and of non-ASCII bytes. `fields.x` follows ClickHouse's
JSON functions (JSONExtractString() gives non-strings as compact JSON text,
JSONType() calls integers beyond 64 bits strings) and the compiler's substring
guards on the stored text. Any change to compiler.py needs its twin here;
tests/tail/test_matcher.py compares both on the same rows in ClickHouse.

The AST is compiled once into closures; the decoded `fields` object and the
lower-cased text of the last row seen are cached, so several predicates over
the same row (one per live tail) share that work.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ..model import SEVERITY
from .ast import All, And, Compare, Exists, Node, Not, Or, Range, Term
from .fields import FieldSpec, Kind, Value, is_number, is_pair_guarded, pair_text, spec_of
from .text import ascii_lower, is_token_char

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
# Bytes that separate tokens: ASCII but not a letter or digit.
_SEPARATOR_BYTES = frozenset(b for b in range(128) if not chr(b).isalnum())
_WHITESPACE = rb"[\t-\r ]+"
_MISSING = object()
_decode = msgspec.json.decode
_encode = msgspec.json.encode


def matcher(node: Node) -> Predicate:
    """A predicate that holds for a row exactly when `compile(node)` selects it."""
    if isinstance(node, All):
        return _always
    if isinstance(node, And):
        return _all_of(tuple(matcher(child) for child in node.children))
    if isinstance(node, Or):
        return _any_of(tuple(matcher(child) for child in node.children))
    if isinstance(node, Not):
        inner = matcher(node.child)
        return lambda row: not inner(row)
    if isinstance(node, Term):
        return _term(spec_of(node.field), node.value, node.prefix)
    if isinstance(node, Compare):
        return _compare(spec_of(node.field), [(node.op, node.value)])
    if isinstance(node, Range):
        bounds: list[tuple[str, Value]] = []
        if node.low is not None:
            bounds.append((">=" if node.include_low else ">", node.low))
        if node.high is not None:
            bounds.append(("<=" if node.include_high else "<", node.high))
        return _compare(spec_of(node.field), bounds)
    if isinstance(node, Exists):
        return _exists(spec_of(node.field))
    raise TypeError(f"not a query node: {node!r}")


def _always(row: Row) -> bool:
    return True


def _all_of(preds: tuple[Predicate, ...]) -> Predicate:
    if len(preds) == 2:
        first, second = preds
        return lambda row: first(row) and second(row)

    def every(row: Row) -> bool:
        for pred in preds:
            if not pred(row):
                return False
        return True

    return every


def _any_of(preds: tuple[Predicate, ...]) -> Predicate:
    if len(preds) == 2:
        first, second = preds
        return lambda row: first(row) or second(row)

    def some(row: Row) -> bool:
        for pred in preds:
            if pred(row):
                return True
        return False

    return some


# -- leaves ------------------------------------------------------------------


def _term(spec: FieldSpec, value: Value, prefix: bool) -> Predicate:
    """field:value and field:value*."""
    kind, col = spec.kind, spec.column
    if kind is Kind.TEXT:
        return _text(col, str(value), prefix)
    if kind is Kind.JSON:
        return _either_path(spec.path, lambda path: _json_term(path, str(value), prefix))
    if kind is Kind.TAGS:
        if prefix:
            start = str(value)
            return lambda row: any(tag.startswith(start) for tag in row.get("tags") or ())
        return lambda row: value in (row.get("tags") or ())
    if prefix:
        start = str(value)
        return lambda row: (row.get(col) or "").startswith(start)
    return _compare(spec, [("=", value)])


def _compare(spec: FieldSpec, bounds: list[tuple[str, Value]]) -> Predicate:
    """Every bound (=, >, >=, <, <=) holds; JSON paths compare JSON numbers only."""
    kind, col = spec.kind, spec.column
    if kind is Kind.JSON:
        numeric = [(_OPS[op], float(value)) for op, value in bounds]
        return _either_path(spec.path, lambda path: _json_compare(path, numeric))
    if kind is Kind.LEVEL:
        if bounds[0][0] == "=":
            return _column("level", "", "=", bounds[0][1])
        col, bounds = "severity", [(op, SEVERITY[str(value)]) for op, value in bounds]
    if kind is Kind.TIME:
        return _checks(_timestamp if spec.name == "timestamp" else _received, bounds)
    if spec.name == "step_index":
        # A missing step index (NULL) compares as false, also under NOT.
        return _checks(lambda row: row.get("step_index"), bounds)
    default = "" if kind is Kind.KEYWORD else 0
    tests = [_column(col, default, op, value) for op, value in bounds]
    return tests[0] if len(tests) == 1 else _all_of(tuple(tests))


def _column(col: str, default: Any, op: str, limit: Any) -> Predicate:
    """`row[col] op limit`, reading `default` for a missing (or null) column."""
    if op == "=":
        if limit != default:
            return lambda row: row.get(col) == limit
        return lambda row: (row.get(col) or default) == limit
    if op == ">":
        return lambda row: (row.get(col) or default) > limit
    if op == ">=":
        return lambda row: (row.get(col) or default) >= limit
    if op == "<":
        return lambda row: (row.get(col) or default) < limit
    return lambda row: (row.get(col) or default) <= limit


def _checks(read: Callable[[Row], Any], bounds: list[tuple[str, Value]]) -> Predicate:
    """The value `read` finds holds every bound; None never does."""
    tests = [(_OPS[op], value) for op, value in bounds]

    def every(row: Row) -> bool:
        found = read(row)
        return found is not None and all(test(found, limit) for test, limit in tests)

    return every


def _exists(spec: FieldSpec) -> Predicate:
    """field:* -- present and not empty."""
    kind = spec.kind
    if kind in (Kind.LEVEL, Kind.TIME, Kind.ID) or spec.name == "severity":
        return _always
    if kind is Kind.JSON:
        return _either_path(spec.path, _json_exists)
    if kind is Kind.TAGS:
        return lambda row: bool(row.get("tags"))
    if spec.name == "step_index":
        return lambda row: row.get("step_index") is not None
    col = spec.column
    return lambda row: bool(row.get(col))


def _either_path(path: tuple[str, ...], make: Callable[[tuple[str, ...]], Predicate]) -> Predicate:
    """The nested path a -> b, or the top-level key `a.b` (the compiler's either_path)."""
    if len(path) == 1:
        return make(path)
    return _any_of((make(path), make((".".join(path),))))


def _json_exists(path: tuple[str, ...]) -> Predicate:
    guard = _key_guard(path)
    return lambda row: guard in (row.get("fields") or "") and _lookup(row, path) is not _MISSING


def _timestamp(row: Row) -> int:
    return int(row.get("ts_ns") or 0)


def _received(row: Row) -> int:
    # received_at keeps milliseconds; compared exactly against nanoseconds.
    return int(row.get("received_ms") or 0) * 1_000_000


# -- full text ---------------------------------------------------------------


def _text(col: str, text: str, prefix: bool) -> Predicate:
    """Whole-token, ASCII case-insensitive search, as hasAllTokens() and match() do it."""
    pieces = [piece.encode("utf-8", "surrogatepass") for piece in ascii_lower(text).split(" ")]
    body = _WHITESPACE.join(re.escape(piece) for piece in pieces)
    end = b"(?![0-9A-Za-z\x80-\xff])" if not prefix and is_token_char(text[-1]) else b""
    # The pattern starts with literal text, which re finds fast; the token
    # boundary before it is checked by hand.
    search = re.compile(body + end).search
    literal = max(pieces, key=len)  # any match contains it: a cheaper first test
    lowered = _lowered_message if col == "message" else _lowered_stack
    if not is_token_char(text[0]):

        def anywhere(row: Row) -> bool:
            haystack = lowered(row)
            return literal in haystack and search(haystack) is not None

        return anywhere

    def at_token_start(row: Row) -> bool:
        haystack = lowered(row)
        if literal not in haystack:
            return False
        found = search(haystack)
        while found is not None:
            start = found.start()
            if start == 0 or haystack[start - 1] in _SEPARATOR_BYTES:
                return True
            found = search(haystack, start + 1)
        return False

    return at_token_start


def _lowered_cache(col: str) -> Callable[[Row], bytes]:
    """The column's UTF-8 bytes with ASCII letters lower-cased, for the last text seen."""
    last: tuple[Any, bytes] = (None, b"")

    def lowered(row: Row) -> bytes:
        nonlocal last
        text = row.get(col) or ""
        seen = last
        if seen[0] is text:
            return seen[1]
        value = text.encode("utf-8", "surrogatepass").lower()
        last = (text, value)
        return value

    return lowered


_lowered_message = _lowered_cache("message")
_lowered_stack = _lowered_cache("error_stack")


# -- free-form fields ----------------------------------------------------------

_last_fields: tuple[Any, Any] = (None, None)


def _fields(row: Row) -> Any:
    """The decoded `fields` object of a row (None when absent or not JSON)."""
    global _last_fields
    text = row.get("fields")
    seen = _last_fields
    if seen[0] is text:
        return seen[1]
    try:
        value = _decode(text) if text else None
    except (msgspec.DecodeError, TypeError):
        value = None
    _last_fields = (text, value)
    return value


def _lookup(row: Row, path: tuple[str, ...]) -> Any:
    """The JSON value at a path of object keys, or _MISSING (as JSONHas() sees it)."""
    value = _fields(row)
    for key in path:
        if type(value) is not dict:
            return _MISSING
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


_INT_RANGE = range(-(2**63), 2**64)


def _is_number(value: Any) -> bool:
    """Whether JSONType() says Int64, UInt64 or Double (booleans are Bool, bigger ints String)."""
    kind = type(value)
    return kind is float or (kind is int and value in _INT_RANGE)


def _string_of(value: Any) -> str:
    """What JSONExtractString() returns: a string as is, null or missing as "", else JSON text."""
    if type(value) is str:
        return value
    if value is None or value is _MISSING:
        return ""
    if type(value) is int:
        return str(value)
    return _json_text(value)


def _json_text(value: Any) -> str:
    """ClickHouse's compact JSON serialisation of a value nested in an array or object."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value) if value in _INT_RANGE else f'"{value}"'
    if kind is float:
        return format_double(value)
    if kind is list:
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    if kind is dict:
        return "{" + ",".join(f"{_quote(k)}:{_json_text(v)}" for k, v in value.items()) + "}"
    return str(value)


_ESCAPES = {i: f"\\u{i:04X}" for i in range(0x20)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n"})
_ESCAPES.update({0x0C: "\\f", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def _quote(text: str) -> str:
    return '"' + text.translate(_ESCAPES) + '"'


def format_double(number: float) -> str:
    """A Float64 as ClickHouse writes it: shortest digits, fixed from 1e-6 up to 1e21."""
    if number == 0:
        return "-0" if str(number)[0] == "-" else "0"
    sign = "-" if number < 0 else ""
    mantissa, _, exponent = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    shortest = whole + fraction
    digits = shortest.lstrip("0")
    # The value is 0.<digits> x 10**point.
    point = len(whole) - (len(shortest) - len(digits)) + int(exponent or 0)
    digits = digits.rstrip("0")
    if -6 <= point - 1 < 21:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits))
        return f"{sign}{digits[:point]}.{digits[point:]}"
    rest = "." + digits[1:] if len(digits) > 1 else ""
    return f"{sign}{digits[0]}{rest}e{point - 1}"


def _key_guard(path: tuple[str, ...]) -> str:
    """The compiler's substring guard for a path's last key: `"key":` in the stored text."""
    return _encoded(path[-1]) + ":"


def _encoded(text: str) -> str:
    """A string as the stored JSON spells it (msgspec), as the compiler's guards use it."""
    return _encode(text).decode()


def _json_term(path: tuple[str, ...], text: str, prefix: bool) -> Predicate:
    """fields.x:value -- that string, or that number; fields.x:val* -- a string prefix."""
    if not prefix and is_pair_guarded(path, text):
        pair = pair_text(path[0], text)

        def pair_string(row: Row) -> bool:
            if pair not in (row.get("fields") or ""):
                return False
            return _string_of(_lookup(row, path)) == text

        return pair_string
    guard = _key_guard(path)
    if prefix or not is_number(text):
        # The compiler's second guard: the value as stored JSON spells it, unquoted.
        needle = _encoded(text)[1:-1]

        def string(row: Row) -> bool:
            raw = row.get("fields") or ""
            if guard not in raw or needle not in raw:
                return False
            found = _string_of(_lookup(row, path))
            return found.startswith(text) if prefix else found == text

        return string
    number = float(text)

    def string_or_number(row: Row) -> bool:
        if guard not in (row.get("fields") or ""):
            return False
        found = _lookup(row, path)
        if _string_of(found) == text:
            return True
        return _is_number(found) and float(found) == number

    return string_or_number


def _json_compare(
    path: tuple[str, ...], tests: list[tuple[Callable[[Any, Any], bool], float]]
) -> Predicate:
    guard = _key_guard(path)
    if len(tests) == 1:
        ((test, limit),) = tests

        def holds_one(row: Row) -> bool:
            if guard not in (row.get("fields") or ""):
                return False
            found = _lookup(row, path)
            return _is_number(found) and test(float(found), limit)

        return holds_one

    def holds(row: Row) -> bool:
        if guard not in (row.get("fields") or ""):
            return False
        found = _lookup(row, path)
        if not _is_number(found):
            return False
        number = float(found)
        return all(test(number, limit) for test, limit in tests)

    return holds
