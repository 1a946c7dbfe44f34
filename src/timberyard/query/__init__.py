"""The query language (`q`): text -> AST (with a canonical form) -> ClickHouse SQL.

    node = parse('level:>=warn fields.service:api -"health check"')
    node.canonical()   # 'level:>=warn AND fields.service:api AND NOT "health check"'
    sql, params = compile(node)   # a condition for WHERE, values as {p0:Type} parameters

Syntax (Lucene-style):

- `word`, `"a phrase"`: the message contains it as whole tokens, ignoring the
  case of ASCII letters. Tokens are runs of ASCII letters and digits (and of
  non-ASCII characters), as the message text index splits them. Text with
  other characters (`ECONNREFUSED:5432`, `/api/orders`) must occur as written,
  starting and ending at token boundaries. In a phrase every run of whitespace
  stands for any run of whitespace; other characters are literal.
- `word*`, `"a phr"*`: the last token is a prefix.
- `field:value`, `field:"two words"`, `field:val*`, `field:*` (present, not
  empty), `field:>v`, `>=`, `<`, `<=`, `field:[a TO b]` (inclusive), `{a TO b}`
  (exclusive; the two may be mixed), `*` as an open bound.
- `AND`, `OR`, `NOT` (upper case), `-term`, `+term`, parentheses; adjacent terms
  mean AND; NOT binds tighter than AND, AND tighter than OR.
- `\\` escapes the next character; in quotes `\\"` and `\\\\`. A `name:` inside a
  word is a field unless the name is dotted outside `fields.` (`example.com:443`)
  or the colon starts `://`; quote or escape text like `"ECONNREFUSED:5432"`.

Fields (names are case-insensitive; camelCase aliases accepted):

- `message` (bare words), `error_stack`: full text as above;
- `service` (`source`, `app`), `environment` (`env`), `dataset`, `host`,
  `instance_id`, `version`, `user_id`, `session_id`, `request_id`, `flow_id`,
  `trace_id`, `span_id`, `error_name`, `project_id`: exact, case-sensitive
  strings; ranges compare them as byte strings;
- `level`: a level or alias (`warning`, `critical`, ...); ranges by severity;
  `severity` (0-6) and `step_index` integers;
- `timestamp`, `received_at`: ISO 8601 or milliseconds since the epoch;
- `id`: 16 hex digits; `tag` (`tags`): one of the tags;
- `fields.a.b` (`data.`, `details.`): a string equal to the value, or a JSON
  number equal to it; comparisons and ranges take JSON numbers only; a prefix
  matches strings; `fields.a:*` means the key is present.

Canonical form: snake_case field names, `tag`, `fields.` paths; bare words
without `message:`; explicit upper-case operators; parentheses only where
precedence needs them; values bare when unambiguous, else double-quoted;
levels, times (ISO 8601, UTC) and ids normalised.

Limits (see limits.py): MAX_QUERY_LENGTH characters, MAX_CLAUSES terms,
MAX_DEPTH nesting, MAX_VALUE_LENGTH per value, MAX_PATH_DEPTH keys per path.
The empty query matches everything and compiles to "1".
"""

from __future__ import annotations

from .ast import All, And, Compare, Exists, Node, Not, Or, Range, Term
from .compiler import compile, referenced_fields
from .errors import QueryError
from .limits import MAX_CLAUSES, MAX_DEPTH, MAX_PATH_DEPTH, MAX_QUERY_LENGTH, MAX_VALUE_LENGTH
from .parser import parse

__all__ = [
    "All",
    "And",
    "Compare",
    "Exists",
    "MAX_CLAUSES",
    "MAX_DEPTH",
    "MAX_PATH_DEPTH",
    "MAX_QUERY_LENGTH",
    "MAX_VALUE_LENGTH",
    "Node",
    "Not",
    "Or",
    "QueryError",
    "Range",
    "Term",
    "compile",
    "parse",
    "referenced_fields",
]
