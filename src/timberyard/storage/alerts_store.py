"""Alerting state in the metadata store: channels, error groups, notices and deliveries.

SQL implementations of the alerts Protocols (ChannelSource, GroupStore,
DeliveryLog) over the same SQLAlchemy `metadata` as the rest of the metadata
store, so `MetaStore.create()` creates these tables too. The async methods run
their database work in a thread. `fold` and `take_due` claim pending counts in
one statement (UPDATE ... RETURNING) so that two nodes never both notify.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..alerts.channels import Channel, ChannelConfig
from ..alerts.records import (
    Delivery,
    EntrySnapshot,
    ErrorGroup,
    GroupKey,
    Occurrences,
    PendingNotice,
)
from ..model import SEVERITY
from .meta import metadata, new_id

channels_table = sa.Table(
    "alert_channels",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    # The validated ChannelConfig as JSON, webhook secret included: never shown by the API.
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),  # ms
    # Creation order, in ns made unique per process: several channels share a millisecond.
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_alert_channels_org", "org_id"),
)

groups_table = sa.Table(
    "alert_groups",
    metadata,
    sa.Column("org_id", sa.String(64), primary_key=True),
    sa.Column("project_id", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.String(32), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("service", sa.String(200), nullable=False),
    sa.Column("error_name", sa.String(255), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("first_seen", sa.BigInteger, nullable=False),  # ns
    sa.Column("last_seen", sa.BigInteger, nullable=False),  # ns
    sa.Column("sample_entry_id", sa.String(64), nullable=False),
    sa.Column("last_entry_id", sa.String(64), nullable=False),
    sa.Index("ix_alert_groups_seen", "org_id", "last_seen"),
)

# Per error group and channel: when it was last notified and what folded in since.
notices_table = sa.Table(
    "alert_notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("org_id", sa.String(64), nullable=False),
    sa.Column("project_id", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("channel_id", sa.String(64), nullable=False),
    sa.Column("last_notified_at", sa.Float, nullable=True),  # epoch seconds
    sa.Column("interval_s", sa.Float, nullable=False),
    sa.Column("due_at", sa.Float, nullable=True),  # last_notified_at + interval_s
    sa.Column("folded", sa.BigInteger, nullable=False),
    # The count taken by the last claim: RETURNING shows new values, so keep it.
    sa.Column("claimed", sa.BigInteger, nullable=False),
    sa.Column("entry", sa.Text, nullable=False),  # EntrySnapshot as JSON
    sa.UniqueConstraint(
        "org_id", "project_id", "fingerprint", "channel_id", name="uq_alert_notice"
    ),
    sa.Index("ix_alert_notices_due", "due_at"),
    sa.Index("ix_alert_notices_channel", "channel_id"),
)

deliveries_table = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel_id", sa.String(64), nullable=False),
    sa.Column("delivery_id", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=True),
    sa.Column("fingerprint", sa.String(32), nullable=True),
    sa.Index("ix_alert_deliveries_channel", "channel_id", "id"),
)

_encode = msgspec.json.Encoder().encode
_last_position = 0
_position_lock = threading.Lock()
_MAX_ATTEMPTS = 5  # of an upsert that lost an insert race to another node


def _json(value: Any) -> str:
    return _encode(value).decode()


def _supports_returning(engine: sa.Engine) -> bool:
    """Whether UPDATE ... RETURNING works (SQLite 3.35+, PostgreSQL)."""
    with engine.connect():
        pass  # the dialect learns the server version on the first connection
    return bool(engine.dialect.update_returning)


class SqlChannels:
    """The channels of every organisation (a ChannelSource), with their management."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    async def channels(self, org_id: str) -> Sequence[Channel]:
        """Every channel of the organisation, enabled or not."""
        return await asyncio.to_thread(self.list_channels, org_id)

    def create_channel(self, org_id: str, config: ChannelConfig) -> Channel:
        """Store a validated channel config under a new id."""
        global _last_position
        channel = Channel(new_id("ch"), org_id, config)
        now_ns = time.time_ns()
        with _position_lock:
            _last_position = position = max(_last_position + 1, now_ns)
        row = {
            "id": channel.id,
            "org_id": org_id,
            "type": config.type,
            "config": _json(config),
            "created_at": now_ns // 1_000_000,
            "position": position,
        }
        with self.engine.begin() as conn:
            conn.execute(channels_table.insert().values(**row))
        return channel

    def list_channels(self, org_id: str) -> list[Channel]:
        """The organisation's channels, oldest first."""
        return [channel for channel, _ in self.list_channel_rows(org_id)]

    def list_channel_rows(self, org_id: str) -> list[tuple[Channel, int]]:
        """The organisation's channels with their creation time (ms), oldest first."""
        query = (
            sa.select(channels_table)
            .where(channels_table.c.org_id == org_id)
            .order_by(channels_table.c.position, channels_table.c.id)
        )
        with self.engine.connect() as conn:
            return [(_channel(r), int(r["created_at"])) for r in conn.execute(query).mappings()]

    def get_channel(self, channel_id: str) -> Channel | None:
        """One channel, or None."""
        query = sa.select(channels_table).where(channels_table.c.id == channel_id)
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().first()
        return _channel(found) if found else None

    def created_at(self, channel_id: str) -> int | None:
        """When the channel was created (ms), or None."""
        query = sa.select(channels_table.c.created_at).where(channels_table.c.id == channel_id)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def delete_channel(self, channel_id: str) -> bool:
        """Remove a channel with its notices and delivery log; False when there was none."""
        with self.engine.begin() as conn:
            done = conn.execute(
                channels_table.delete().where(channels_table.c.id == channel_id)
            ).rowcount
            conn.execute(notices_table.delete().where(notices_table.c.channel_id == channel_id))
            conn.execute(
                deliveries_table.delete().where(deliveries_table.c.channel_id == channel_id)
            )
        return bool(done)


def _channel(row: Any) -> Channel:
    config = msgspec.json.decode(row["config"], type=ChannelConfig)
    return Channel(row["id"], row["org_id"], config)


class SqlGroupStore:
    """Error groups and per-channel notification state (a GroupStore)."""

    def __init__(self, engine: sa.Engine, *, returning: bool | None = None) -> None:
        self.engine = engine
        self._returning = returning

    @property
    def returning(self) -> bool:
        if self._returning is None:
            self._returning = _supports_returning(self.engine)
        return self._returning

    # -- groups -------------------------------------------------------------

    async def record(self, occurrences: Occurrences) -> ErrorGroup:
        """Add occurrences to their group, creating it; the group's new totals."""
        return await asyncio.to_thread(self.record_sync, occurrences)

    def record_sync(self, o: Occurrences) -> ErrorGroup:
        """`record`, in the calling thread."""
        g = groups_table.c
        severity = SEVERITY.get(o.level, 0)
        # In SET, column names are the row's values before the update.
        update = (
            groups_table.update()
            .where(*_group_key(o.key))
            .values(
                count=g.count + o.count,
                first_seen=sa.case((g.first_seen > o.first_seen, o.first_seen), else_=g.first_seen),
                last_entry_id=sa.case(
                    (g.last_seen <= o.last_seen, o.last_entry_id), else_=g.last_entry_id
                ),
                last_seen=sa.case((g.last_seen < o.last_seen, o.last_seen), else_=g.last_seen),
                level=sa.case((g.severity < severity, o.level), else_=g.level),
                severity=sa.case((g.severity < severity, severity), else_=g.severity),
            )
        )
        insert = groups_table.insert().values(
            org_id=o.key.org_id,
            project_id=o.key.project_id,
            fingerprint=o.key.fingerprint,
            title=o.title,
            service=o.service,
            error_name=o.error_name,
            level=o.level,
            severity=severity,
            count=o.count,
            first_seen=o.first_seen,
            last_seen=o.last_seen,
            sample_entry_id=o.first_entry_id,
            last_entry_id=o.last_entry_id,
        )
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    if not conn.execute(update).rowcount:
                        conn.execute(insert)
                    row = (
                        conn.execute(sa.select(groups_table).where(*_group_key(o.key)))
                        .mappings()
                        .one()
                    )
                    return _group(row)
            except IntegrityError:
                if attempt == _MAX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def get(self, key: GroupKey) -> ErrorGroup | None:
        """One group, or None."""
        return await asyncio.to_thread(self.get_sync, key)

    def get_sync(self, key: GroupKey) -> ErrorGroup | None:
        """`get`, in the calling thread."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(groups_table).where(*_group_key(key))).mappings().first()
        return _group(row) if row else None

    async def groups(self, org_id: str, project_id: str | None = None) -> list[ErrorGroup]:
        """The groups of an organisation (or one project), most recently seen first."""
        return await asyncio.to_thread(self.groups_sync, org_id, project_id)

    def groups_sync(self, org_id: str, project_id: str | None = None) -> list[ErrorGroup]:
        """`groups`, in the calling thread."""
        query = sa.select(groups_table).where(groups_table.c.org_id == org_id)
        if project_id is not None:
            query = query.where(groups_table.c.project_id == project_id)
        query = query.order_by(groups_table.c.last_seen.desc())
        with self.engine.connect() as conn:
            return [_group(r) for r in conn.execute(query).mappings()]

    # -- notices ------------------------------------------------------------

    async def fold(
        self,
        key: GroupKey,
        channel_id: str,
        count: int,
        entry: EntrySnapshot,
        now: float,
        interval: float,
    ) -> int:
        """Fold occurrences into the channel's pending count; the count to notify now, or 0."""
        return await asyncio.to_thread(self.fold_sync, key, channel_id, count, entry, now, interval)

    def fold_sync(
        self,
        key: GroupKey,
        channel_id: str,
        count: int,
        entry: EntrySnapshot,
        now: float,
        interval: float,
    ) -> int:
        """`fold`, in the calling thread."""
        n = notices_table.c
        snapshot = _json(entry)
        where = (*_notice_key(key), n.channel_id == channel_id)
        insert = notices_table.insert().values(
            org_id=key.org_id,
            project_id=key.project_id,
            fingerprint=key.fingerprint,
            channel_id=channel_id,
            last_notified_at=now,
            interval_s=interval,
            due_at=now + interval,
            folded=0,
            claimed=count,
            entry=snapshot,
        )
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    if self.returning:
                        claimed = self._fold_returning(conn, where, count, snapshot, now, interval)
                    else:
                        claimed = self._fold_guarded(conn, where, count, snapshot, now, interval)
                    if claimed is not None:
                        return claimed
                    # Never notified on this channel: claim at once.
                    conn.execute(insert)
                    return count
            except IntegrityError:
                if attempt == _MAX_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _fold_returning(
        self,
        conn: sa.Connection,
        where: tuple[Any, ...],
        count: int,
        snapshot: str,
        now: float,
        interval: float,
    ) -> int | None:
        """One UPDATE ... RETURNING; None when the row does not exist."""
        n = notices_table.c
        claim = sa.or_(n.last_notified_at.is_(None), n.last_notified_at <= now - interval)
        update = (
            notices_table.update()
            .where(*where)
            .values(
                claimed=sa.case((claim, n.folded + count), else_=0),
                folded=sa.case((claim, 0), else_=n.folded + count),
                last_notified_at=sa.case((claim, now), else_=n.last_notified_at),
                due_at=sa.case((claim, now + interval), else_=n.last_notified_at + interval),
                interval_s=interval,
                entry=snapshot,
            )
            .returning(n.claimed)
        )
        found = conn.execute(update).first()
        return None if found is None else int(found[0])

    def _fold_guarded(
        self,
        conn: sa.Connection,
        where: tuple[Any, ...],
        count: int,
        snapshot: str,
        now: float,
        interval: float,
    ) -> int | None:
        """SELECT, then an UPDATE guarded by the values read; retried if another node won."""
        n = notices_table.c
        while True:
            row = conn.execute(sa.select(n.id, n.folded, n.last_notified_at).where(*where)).first()
            if row is None:
                return None
            row_id, folded, last = row
            claim = last is None or now - last >= interval
            values: dict[str, Any] = {"interval_s": interval, "entry": snapshot}
            if claim:
                values.update(
                    claimed=folded + count, folded=0, last_notified_at=now, due_at=now + interval
                )
            else:
                values.update(claimed=0, folded=folded + count, due_at=last + interval)
            guard = n.last_notified_at.is_(None) if last is None else n.last_notified_at == last
            done = conn.execute(
                notices_table.update()
                .where(n.id == row_id, n.folded == folded, guard)
                .values(**values)
            ).rowcount
            if done:
                return int(values["claimed"])

    async def take_due(self, now: float, limit: int = 100) -> list[PendingNotice]:
        """Claim pending counts whose interval has ended, as `fold` claims them."""
        return await asyncio.to_thread(self.take_due_sync, now, limit)

    def take_due_sync(self, now: float, limit: int = 100) -> list[PendingNotice]:
        """`take_due`, in the calling thread."""
        n = notices_table.c
        due = sa.and_(n.folded > 0, n.due_at <= now)
        with self.engine.begin() as conn:
            if self.returning:
                ids = sa.select(n.id).where(due).order_by(n.due_at).limit(limit).scalar_subquery()
                update = (
                    notices_table.update()
                    # `due` again: a row another node claimed meanwhile no longer qualifies.
                    .where(n.id.in_(ids), due)
                    .values(
                        claimed=n.folded,
                        folded=0,
                        last_notified_at=now,
                        due_at=now + n.interval_s,
                    )
                    .returning(
                        n.org_id, n.project_id, n.fingerprint, n.channel_id, n.claimed, n.entry
                    )
                )
                rows: list[tuple[Any, ...]] = [tuple(r) for r in conn.execute(update)]
            else:
                rows = []
                candidates = conn.execute(
                    sa.select(
                        n.id,
                        n.org_id,
                        n.project_id,
                        n.fingerprint,
                        n.channel_id,
                        n.folded,
                        n.entry,
                        n.last_notified_at,
                    )  # fmt: skip
                    .where(due)
                    .order_by(n.due_at)
                    .limit(limit)
                ).all()
                for row_id, org, project, fp, channel, folded, entry, last in candidates:
                    done = conn.execute(
                        notices_table.update()
                        .where(n.id == row_id, n.folded == folded, n.last_notified_at == last)
                        .values(
                            claimed=folded,
                            folded=0,
                            last_notified_at=now,
                            due_at=now + n.interval_s,
                        )  # fmt: skip
                    ).rowcount
                    if done:
                        rows.append((org, project, fp, channel, folded, entry))
        return [
            PendingNotice(
                GroupKey(org, project, fp),
                channel,
                int(claimed),
                msgspec.json.decode(entry, type=EntrySnapshot),
            )
            for org, project, fp, channel, claimed, entry in rows
        ]


def _group_key(key: GroupKey) -> tuple[Any, ...]:
    g = groups_table.c
    return (
        g.org_id == key.org_id,
        g.project_id == key.project_id,
        g.fingerprint == key.fingerprint,
    )


def _notice_key(key: GroupKey) -> tuple[Any, ...]:
    n = notices_table.c
    return (
        n.org_id == key.org_id,
        n.project_id == key.project_id,
        n.fingerprint == key.fingerprint,
    )


def _group(row: Any) -> ErrorGroup:
    return ErrorGroup(
        key=GroupKey(row["org_id"], row["project_id"], row["fingerprint"]),
        title=row["title"],
        service=row["service"],
        error_name=row["error_name"],
        level=row["level"],
        count=int(row["count"]),
        first_seen=int(row["first_seen"]),
        last_seen=int(row["last_seen"]),
        sample_entry_id=row["sample_entry_id"],
        last_entry_id=row["last_entry_id"],
    )


class SqlDeliveryLog:
    """Delivery attempts per channel (a DeliveryLog), keeping the latest `keep` of each."""

    def __init__(self, engine: sa.Engine, keep: int = 200) -> None:
        self.engine = engine
        self.keep = keep

    async def record(self, channel_id: str, delivery: Delivery) -> None:
        """Append one attempt to the channel's log, dropping the oldest beyond `keep`."""
        await asyncio.to_thread(self.record_sync, channel_id, delivery)

    def record_sync(self, channel_id: str, delivery: Delivery) -> None:
        """`record`, in the calling thread."""
        d = deliveries_table.c
        with self.engine.begin() as conn:
            conn.execute(
                deliveries_table.insert().values(
                    channel_id=channel_id,
                    delivery_id=delivery.delivery_id,
                    attempt=delivery.attempt,
                    status=delivery.status,
                    at=delivery.at,
                    status_code=delivery.status_code,
                    error=delivery.error,
                    duration_ms=delivery.duration_ms,
                    fingerprint=delivery.fingerprint,
                )
            )
            # The id of the oldest attempt to keep; everything older goes.
            floor = conn.execute(
                sa.select(d.id)
                .where(d.channel_id == channel_id)
                .order_by(d.id.desc())
                .offset(self.keep - 1)
                .limit(1)
            ).scalar_one_or_none()
            if floor is not None:
                conn.execute(
                    deliveries_table.delete().where(d.channel_id == channel_id, d.id < floor)
                )

    async def recent(self, channel_id: str, limit: int = 20) -> list[Delivery]:
        """The channel's latest attempts, newest first."""
        return await asyncio.to_thread(self.recent_sync, channel_id, limit)

    def recent_sync(self, channel_id: str, limit: int = 20) -> list[Delivery]:
        """`recent`, in the calling thread."""
        d = deliveries_table.c
        query = (
            sa.select(deliveries_table)
            .where(d.channel_id == channel_id)
            .order_by(d.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                Delivery(
                    delivery_id=r["delivery_id"],
                    channel_id=r["channel_id"],
                    attempt=r["attempt"],
                    status=r["status"],
                    at=r["at"],
                    status_code=r["status_code"],
                    error=r["error"],
                    duration_ms=r["duration_ms"],
                    fingerprint=r["fingerprint"],
                )
                for r in conn.execute(query).mappings()
            ]
