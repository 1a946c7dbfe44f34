"""Which entries a read asks for: a domain filter, and its one translation to a WHERE clause."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EntryFilter:
    """Entries of one project in [from_ns, to_ns), matching the query language's compiled
    condition (SQL and parameters as `query.compile` emits them) and the typed filters
    of the seed read contracts (levels, service, search text, instance)."""

    project_id: str
    from_ns: int | None = None
    to_ns: int | None = None
    condition: str = "1"
    params: dict[str, Any] = field(default_factory=dict)
    levels: list[str] = field(default_factory=list)
    service: str | None = None
    search: str | None = None
    instance_id: str | None = None

    @property
    def plain(self) -> bool:
        """True when only the project and the time range select entries."""
        return (
            self.condition in ("", "1")
            and not self.levels
            and not self.service
            and not self.search
            and not self.instance_id
        )


def where(flt: EntryFilter) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of a filter and its bound parameters."""
    parts = ["project_id = {_project:String}"]
    params: dict[str, Any] = {"_project": flt.project_id, **flt.params}
    if flt.from_ns is not None:
        parts.append("timestamp >= fromUnixTimestamp64Nano({_from:Int64})")
        params["_from"] = flt.from_ns
    if flt.to_ns is not None:
        parts.append("timestamp < fromUnixTimestamp64Nano({_to:Int64})")
        params["_to"] = flt.to_ns
    if flt.condition not in ("1", ""):
        parts.append(f"({flt.condition})")
    if flt.levels:
        parts.append("level IN {c_levels:Array(String)}")
        params["c_levels"] = list(flt.levels)
    if flt.service:
        parts.append("service = {c_service:String}")
        params["c_service"] = flt.service
    if flt.search:
        parts.append("positionCaseInsensitiveUTF8(message, {c_search:String}) > 0")
        params["c_search"] = flt.search
    if flt.instance_id:
        parts.append("instance_id = {c_instance:String}")
        params["c_instance"] = flt.instance_id
    return " AND ".join(parts), params


# Bound parameter -> the request parameter its value came from, so that a value the
# store refuses is reported under the name the client used.
PUBLIC_PARAMETERS: dict[str, str] = {
    "_from": "from",
    "_to": "to",
    "_cts": "cursor",
    "_cid": "cursor",
    "i": "id",
    "_after": "Last-Event-ID",
    "c_levels": "level",
    "c_service": "service",
    "c_search": "search",
    "c_instance": "instance_id",
    "_limit": "limit",
}
