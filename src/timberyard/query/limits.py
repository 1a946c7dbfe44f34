"""Bounds on the cost of one query; a query beyond any of them is a QueryError."""

from __future__ import annotations

# Characters in the whole query string.
MAX_QUERY_LENGTH = 4096
# Leaf clauses (words, phrases, field:value, ranges, exists) in one query.
MAX_CLAUSES = 256
# Nesting of parentheses and NOT / `-` operators.
MAX_DEPTH = 32
# Characters in one word, phrase or field value (after unescaping).
MAX_VALUE_LENGTH = 1024
# Keys in one `fields.a.b.c` path.
MAX_PATH_DEPTH = 16
