"""Numbered migrations of the metadata schema, for SQLite and PostgreSQL alike.

`schema_migrations` records each migration applied. `migrate()` applies the missing
ones in order, in one transaction that holds a lock, so nodes starting together on
one PostgreSQL do not race (SQLite serialises writers itself).

Migration 1 creates the tables as the code defines them (`CREATE TABLE IF NOT
EXISTS`), which also adopts a database made before migrations existed: its tables
are kept as they are and it is marked as version 1. Later migrations must therefore
be idempotent against the inspector (`add_column` skips a column that exists), since
on an empty database migration 1 already creates the latest shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.schema import CreateColumn

log = logging.getLogger(__name__)

_versions = sa.MetaData()
schema_migrations = sa.Table(
    "schema_migrations",
    _versions,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.BigInteger, nullable=False),  # ms
)

# pg_advisory_xact_lock key of the migration lock: any constant, the same on every node.
_LOCK_KEY = 7_301_455_020

Step = Callable[[sa.Connection, sa.MetaData], None]


def _create_tables(conn: sa.Connection, metadata: sa.MetaData) -> None:
    metadata.create_all(conn, checkfirst=True)


def add_column(conn: sa.Connection, table: str, column: sa.Column[object]) -> None:
    """ALTER TABLE ... ADD COLUMN, unless the column is there already."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    if column.name in present:
        return
    # The dialect's own column DDL: type, quoted default, NOT NULL (needs a default
    # when the table has rows).
    spec = str(CreateColumn(column).compile(dialect=conn.dialect))
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {spec}"))


# (version, name, step): append only; never edit or renumber an applied one.
MIGRATIONS: list[tuple[int, str, Step]] = [
    (1, "organisations, projects, keys, usage, debounce and alerting tables", _create_tables),
]


def applied(engine: sa.Engine) -> list[int]:
    """The versions recorded in the database, in order (empty before the first migrate)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return []
        rows = conn.execute(sa.select(schema_migrations.c.version).order_by("version"))
        return [int(r[0]) for r in rows]


def migrate(engine: sa.Engine, metadata: sa.MetaData) -> list[int]:
    """Apply the migrations the database lacks; the versions applied now."""
    done_now: list[int] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        _versions.create_all(conn, checkfirst=True)
        present = {int(r[0]) for r in conn.execute(sa.select(schema_migrations.c.version))}
        for version, name, step in MIGRATIONS:
            if version in present:
                continue
            log.info("metadata schema: applying migration %d (%s)", version, name)
            step(conn, metadata)
            conn.execute(
                schema_migrations.insert().values(
                    version=version, name=name, applied_at=int(time.time() * 1000)
                )
            )
            done_now.append(version)
        # Tables added to the code since the last migration exist too (no-op otherwise).
        metadata.create_all(conn, checkfirst=True)
    return done_now
