"""The one error the query language raises, located by position."""

from __future__ import annotations

import json

from ..errors import TimberyardError

# Long queries are cut in messages; the full text stays in `.query`.
_SHOWN_CHARS = 200


def describe(text: str) -> str:
    """A double-quoted rendering of some query text for messages."""
    return json.dumps(text, ensure_ascii=False)


class QueryError(Exception):
    """A query that cannot be parsed: where (0-based) and what was expected."""

    def __init__(self, query: str, position: int, problem: str, expected: str) -> None:
        self.query = query
        self.position = position
        self.problem = problem
        self.expected = expected
        shown = query if len(query) <= _SHOWN_CHARS else query[:_SHOWN_CHARS] + "…"
        self.message = (
            f"cannot parse query {describe(shown)}: {problem} at {position}, expected {expected}"
        )
        super().__init__(self.message)

    def to_api(self) -> TimberyardError:
        """The QUERY_ERROR (400) the HTTP layer answers with."""
        return TimberyardError(
            "QUERY_ERROR", self.message, position=self.position, query=self.query
        )
