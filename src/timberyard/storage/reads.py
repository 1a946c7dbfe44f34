"""The entry store's reads and deletes, named for what callers need; all their SQL is here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model import LEVELS
from .filters import EntryFilter, where
from .reader import NAMES, SELECT_SQL, to_entry

_ID_AT = NAMES.index("id")
_TS_AT = NAMES.index("timestamp_ns")

# Canonical columns offered as facets, with their API names.
FACET_COLUMNS: list[tuple[str, str]] = [
    ("level", "level"),
    ("service", "service"),
    ("environment", "environment"),
    ("dataset", "dataset"),
    ("host", "host"),
    ("instance_id", "instanceId"),
    ("version", "version"),
    ("error_name", "errorName"),
]

# Related entries: the column of each kind and the order its entries are shown in.
_RELATED = {
    "session": ("session_id", "timestamp, id"),
    "request": ("request_id", "timestamp, id"),
    "flow": ("flow_id", "ifNull(step_index, 65535), timestamp, id"),
}

# One row per group: totals in the range, the latest entry, and counts per bucket
# (countResample counts keys 0 .. buckets-1; an entry stamped exactly at the end of
# a default range, "now", goes into the last bucket).
_GROUPS_SQL = """
SELECT
  fingerprint,
  count() AS n,
  toUnixTimestamp64Nano(min(timestamp)) AS first_ns,
  toUnixTimestamp64Nano(max(timestamp)) AS last_ns,
  max(severity),
  any(service),
  any(error_name),
  argMax(message, (timestamp, id)),
  argMax(id, (timestamp, id)),
  countResample(0, {buckets}, 1)(
    least(intDiv(toUnixTimestamp64Nano(timestamp) - {{_from:Int64}}, {{_step:Int64}}), {last})
  )
FROM {table}
WHERE {where} AND fingerprint != ''
GROUP BY fingerprint
ORDER BY last_ns DESC, fingerprint
LIMIT {{_limit:UInt32}}
"""

_SAMPLES_SQL = """
SELECT {columns} FROM {table}
WHERE {where} AND has({{_ids:Array(UInt64)}}, id)
"""

GROUP_KEYS = (
    "fingerprint",
    "count",
    "first_ns",
    "last_ns",
    "severity",
    "service",
    "error_name",
    "message",
    "sample_id",
    "trend",
)


class EntryReads:
    """Reads, counts and deletes of entries; mixed into EntryStore, which runs the SQL."""

    @property
    def table(self) -> str:
        """The table entries are read from."""
        raise NotImplementedError

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict | None = None
    ) -> Sequence[Sequence[Any]]:
        raise NotImplementedError

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def mutation_target(self) -> str:
        """The table (and ON CLUSTER clause) that partition drops and deletes address."""
        return self.table

    def partition_source(self) -> str:
        """Where `_partition_id` of the stored rows can be read."""
        return self.table

    # -- pages ------------------------------------------------------------------

    def count(self, flt: EntryFilter) -> int:
        """How many entries match a filter, exactly."""
        sql, params = where(flt)
        return int(self.query(f"SELECT count() FROM {self.table} WHERE {sql}", params)[0][0])

    def page(
        self,
        flt: EntryFilter,
        *,
        limit: int,
        order: str = "desc",
        after: tuple[int, int] | None = None,
        offset: int = 0,
    ) -> list[tuple[int, int, dict[str, Any]]]:
        """Up to `limit` (timestamp ns, id, entry) in (timestamp, id) order, after a keyset
        position `after` (exclusive) and an offset."""
        sql, params = where(flt)
        if after is not None:
            op = "<" if order == "desc" else ">"
            sql += (
                f" AND (timestamp, id) {op}"
                " (fromUnixTimestamp64Nano({_cts:Int64}), {_cid:UInt64})"
            )
            params = {**params, "_cts": after[0], "_cid": after[1]}
        direction = "DESC" if order == "desc" else "ASC"
        rows = self.query(
            f"SELECT {SELECT_SQL} FROM {self.table} WHERE {sql}"
            f" ORDER BY timestamp {direction}, id {direction}"
            f" LIMIT {int(limit)} OFFSET {int(offset)}",
            params,
        )
        return [(int(r[_TS_AT]), int(r[_ID_AT]), to_entry(r)) for r in rows]

    def get(self, project_id: str, entry_id: int) -> dict[str, Any] | None:
        """One entry of a project by its numeric id."""
        rows = self.query(
            f"SELECT {SELECT_SQL} FROM {self.table}"
            " WHERE project_id = {p:String} AND id = {i:UInt64} LIMIT 1",
            {"p": project_id, "i": entry_id},
        )
        return to_entry(rows[0]) if rows else None

    def related(
        self, project_id: str, kind: str, value: str, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """Entries sharing a session, request or flow id: time order (flows: step order)."""
        column, order = _RELATED[kind]
        rows = self.query(
            f"SELECT {SELECT_SQL} FROM {self.table}"
            f" WHERE project_id = {{p:String}} AND {column} = {{v:String}}"
            f" ORDER BY {order} LIMIT {int(limit)}",
            {"p": project_id, "v": value},
        )
        return [to_entry(r) for r in rows]

    def entries_after(
        self, flt: EntryFilter, after_id: int, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """(id, entry) of matching entries with id > after_id, in id order (tail replay)."""
        sql, params = where(flt)
        rows = self.query(
            f"SELECT {SELECT_SQL} FROM {self.table} WHERE {sql} AND id > {{_after:UInt64}}"
            f" ORDER BY id LIMIT {int(limit)}",
            {**params, "_after": after_id},
        )
        return [(int(row[_ID_AT]), to_entry(row)) for row in rows]

    # -- aggregates -------------------------------------------------------------

    def histogram(
        self, flt: EntryFilter, origin_ms: int, step_ms: int, end_ms: int
    ) -> list[tuple[int, str, int]]:
        """(bucket index, level, count) over [from, to): buckets of `step_ms` from `origin_ms`.

        Without other conditions and with whole-minute buckets, the counts come from
        the per-minute projection (the range then covers whole minutes).
        """
        if flt.plain and step_ms % 60_000 == 0:
            sql = (
                "SELECT intDiv(toUnixTimestamp(toStartOfMinute(timestamp)) * 1000"
                " - {_origin:Int64}, {_step:Int64}) AS b, severity, count() FROM "
                + self.table
                + " WHERE project_id = {_project:String}"
                " AND toStartOfMinute(timestamp) >= toDateTime({_fm:Int64})"
                " AND toStartOfMinute(timestamp) < toDateTime({_tm:Int64})"
                " GROUP BY b, severity"
            )
            params = {
                "_project": flt.project_id,
                "_origin": origin_ms,
                "_step": step_ms,
                "_fm": origin_ms // 1000,
                "_tm": -(-end_ms // 60_000) * 60,
            }
            return [(int(b), LEVELS[s], int(n)) for b, s, n in self.query(sql, params)]
        cond, values = where(flt)
        sql = (
            "SELECT intDiv(toUnixTimestamp64Milli(timestamp) - {_origin:Int64}, {_step:Int64})"
            f" AS b, level, count() FROM {self.table} WHERE {cond} GROUP BY b, level"
        )
        rows = self.query(sql, {**values, "_origin": origin_ms, "_step": step_ms})
        return [(int(b), str(level), int(n)) for b, level, n in rows]

    def facets(
        self, flt: EntryFilter, sample: int, values: int
    ) -> tuple[list[tuple[str, str, int]], dict[str, int], int]:
        """Over the newest `sample` matching entries: the top `values` (name, value, count)
        per field, how many entries have each field, and how many entries matched
        (at most sample + 1). Keys inside `fields` appear as `fields.<key>`."""
        cond, params = where(flt)
        newest = (
            "SELECT level, service, environment, dataset, host, instance_id, version,"
            f" error_name, tags, fields FROM {self.table} WHERE {cond}"
            f" ORDER BY timestamp DESC LIMIT {int(sample)}"
        )
        pairs = ", ".join(f"('{api}', toString({col}))" for col, api in FACET_COLUMNS)
        # One (name, value) pair per field an entry has: columns, tags, keys of `fields`.
        pairs_of_entry = f"""arrayFilter(kv -> kv.2 != '', arrayConcat(
            [{pairs}],
            arrayMap(t -> ('tag', t), CAST(tags, 'Array(String)')),
            arrayMap(kv -> (concat('fields.', kv.1),
                            if(JSONType(kv.2) = 'String', JSONExtractString(kv.2), kv.2)),
                     JSONExtractKeysAndValuesRaw(fields))))"""
        top = self.query(
            f"""
            SELECT kv.1 AS name, kv.2 AS value, count() AS c
            FROM (SELECT arrayJoin({pairs_of_entry}) AS kv FROM ({newest}))
            GROUP BY name, value
            ORDER BY name, c DESC, value
            LIMIT {int(values)} BY name
            """,
            params,
        )
        counts = self.query(
            "SELECT kv.1 AS name, count() FROM (SELECT arrayJoin(arrayDistinct(arrayMap("
            f"x -> x.1, {pairs_of_entry}))) AS kv1, tuple(kv1) AS kv FROM ({newest}))"
            " GROUP BY name",
            params,
        )
        scanned = self.query(
            f"SELECT count() FROM (SELECT 1 FROM {self.table} WHERE {cond}"
            f" LIMIT {int(sample) + 1})",
            params,
        )
        return (
            [(str(n), str(v), int(c)) for n, v, c in top],
            {str(n): int(c) for n, c in counts},
            int(scanned[0][0]),
        )

    def error_groups(
        self, flt: EntryFilter, step_ns: int, limit: int, buckets: int
    ) -> list[dict[str, Any]]:
        """Error groups of a filter, most recently seen first: GROUP_KEYS of each, a trend
        of `buckets` counts of `step_ns` from the filter's start, and `sample`, the
        latest entry of the group."""
        cond, params = where(flt)
        # Ints in [1, MAX_BUCKETS]: the parameters of an aggregate function must be literals.
        sql = _GROUPS_SQL.format(
            buckets=int(buckets), last=int(buckets) - 1, table=self.table, where=cond
        )
        groups = [
            dict(zip(GROUP_KEYS, row, strict=True))
            for row in self.query(sql, {**params, "_step": step_ns, "_limit": limit})
        ]
        samples: dict[int, dict[str, Any]] = {}
        if groups:
            ids = [int(g["sample_id"]) for g in groups]
            sample_sql = _SAMPLES_SQL.format(columns=SELECT_SQL, table=self.table, where=cond)
            for sample_row in self.query(sample_sql, {**params, "_ids": ids}):
                samples[int(sample_row[_ID_AT])] = to_entry(sample_row)
        for group in groups:
            group["sample"] = samples.get(int(group["sample_id"]))
        return groups

    # -- retention --------------------------------------------------------------

    def partitions(self) -> list[tuple[str, str, int]]:
        """(partition id, project, newest arrival ms) of every stored partition and project."""
        rows = self.query(
            "SELECT _partition_id, project_id, toUnixTimestamp64Milli(max(received_at))"
            f" FROM {self.partition_source()} GROUP BY _partition_id, project_id"
        )
        return [(str(p), str(project), int(newest)) for p, project, newest in rows]

    def drop_partition(self, partition_id: str) -> None:
        """Remove one whole partition."""
        self.command(
            f"ALTER TABLE {self.mutation_target()} DROP PARTITION ID {{p:String}}",
            {"p": partition_id},
        )

    def delete_project(self, project_id: str) -> None:
        """Remove every entry of a project."""
        self.command(
            f"DELETE FROM {self.mutation_target()} WHERE project_id = {{p:String}}",
            {"p": project_id},
        )

    def delete_received_before(self, project_id: str, cutoff_ms: int) -> bool:
        """Remove a project's entries that arrived before a time; False when there were none."""
        found = self.query(
            f"SELECT count() FROM {self.table} WHERE project_id = {{p:String}}"
            " AND received_at < fromUnixTimestamp64Milli({c:Int64}) LIMIT 1",
            {"p": project_id, "c": cutoff_ms},
        )
        if not int(found[0][0]):
            return False
        self.command(
            f"DELETE FROM {self.mutation_target()} WHERE project_id = {{p:String}}"
            " AND received_at < fromUnixTimestamp64Milli({c:Int64})",
            {"p": project_id, "c": cutoff_ms},
        )
        return True
