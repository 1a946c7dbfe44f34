"""Channel queries as predicates over entry rows, by the query module's in-memory matcher."""

from __future__ import annotations

from .rules import Matcher, QueryCompiler


def query_compiler() -> QueryCompiler | None:
    """The Dispatcher's `compile_query`, or None when the query module has no matcher.

    Without one, channels that have a query never match (the dispatcher logs it).
    """
    try:
        from ..query import parse
        from ..query.matcher import matcher
    except ImportError:
        return None

    def compile_matcher(q: str) -> Matcher:
        """A predicate over pipeline rows; raises QueryError when `q` is invalid."""
        return matcher(parse(q))

    return compile_matcher
