"""The metadata store: organisations, projects, keys and settings (SQLAlchemy Core).

SQLite in the data folder by default; PostgreSQL (`postgresql+psycopg://...`) when
several nodes share one deployment. Only portable Core constructs are used, and the
schema is made by the numbered migrations of `migrations.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event

metadata = sa.MetaData()

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("plan", sa.String(32), nullable=False, server_default="free"),
    sa.Column("monthly_quota", sa.BigInteger, nullable=True),
    sa.Column("rate_limit_per_minute", sa.Integer, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("org_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("retention_days", sa.Integer, nullable=False, server_default="30"),
    sa.Column("allowed_origins", sa.Text, nullable=False, server_default="[]"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("deleted_at", sa.BigInteger, nullable=True),
    sa.Index("ix_projects_org", "org_id"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hint", sa.String(16), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    sa.Index("ix_keys_project", "project_id"),
)

settings_table = sa.Table(
    "settings",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

usage = sa.Table(
    "usage",
    metadata,
    sa.Column("org_id", sa.String(64), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("overage", sa.BigInteger, nullable=False, server_default="0"),
)

debounce = sa.Table(
    "debounce",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(64), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("entry_id", sa.BigInteger, nullable=False),
    sa.Column("window_end_ms", sa.BigInteger, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False, server_default="1"),
    sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_debounce_key", "project_id", "key_hash", "window_end_ms"),
    sa.Index("ix_debounce_entry", "project_id", "entry_id"),
)

_SQLITE_LOCKS: dict[str, threading.Lock] = {}  # per database file, for debounce claims

PLANS = ("free", "pro", "enterprise")
KEY_KINDS: dict[str, tuple[str, frozenset[str]]] = {
    # kind -> (prefix, scopes)
    "server": ("sk", frozenset({"ingest", "read"})),
    "ingest": ("ik", frozenset({"ingest"})),
    "read": ("rk", frozenset({"read"})),
    "public": ("pk", frozenset({"browser"})),
}
KIND_BY_PREFIX = {prefix: kind for kind, (prefix, _) in KEY_KINDS.items()}


def hash_secret(secret: str) -> str:
    """SHA-256 of a key or token: keys are random, so a fast hash is enough."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id(prefix: str) -> str:
    """A URL-safe id such as `prj_3f9a1c2b7d4e`."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class KeyInfo:
    """What a valid key grants."""

    key_id: str
    kind: str
    scopes: frozenset[str]
    project_id: str
    org_id: str
    project_active: bool
    allowed_origins: tuple[str, ...]


class MetaStore:
    """Organisations, projects, keys and settings in a relational database."""

    def __init__(self, url: str) -> None:
        self.url = url
        # SQLite is one node's: a lock in the process serialises debounce claims
        # (PostgreSQL takes a lock per key in the database instead).
        self._claim_lock: Any = (
            _SQLITE_LOCKS.setdefault(url, threading.Lock())
            if url.startswith("sqlite")
            else nullcontext()
        )
        if url.startswith("sqlite"):
            self.engine = sa.create_engine(url, future=True)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            # A server: connections are checked before use (it may have restarted).
            self.engine = sa.create_engine(url, future=True, pool_pre_ping=True)

    def create(self) -> None:
        """Bring the schema up to date: apply the migrations the database lacks."""
        # The alerting tables are part of the schema whether or not this process uses
        # them: `serve --workers` migrates in its owner, which never imports them.
        from . import alerts_store  # noqa: F401
        from .migrations import migrate

        migrate(self.engine, metadata)

    def close(self) -> None:
        self.engine.dispose()

    # -- settings ---------------------------------------------------------

    def get_setting(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(settings_table.c.value).where(settings_table.c.name == name)
            ).scalar_one_or_none()

    def set_setting(self, name: str, value: str) -> None:
        with self.engine.begin() as conn:
            updated = conn.execute(
                settings_table.update().where(settings_table.c.name == name).values(value=value)
            ).rowcount
            if not updated:
                conn.execute(settings_table.insert().values(name=name, value=value))

    def ensure_admin_token(self) -> str | None:
        """Generate the admin token on first use; returns it only that first time."""
        if self.get_setting("admin_token_hash"):
            return None
        token = "adm_" + secrets.token_urlsafe(32)
        self.set_setting("admin_token_hash", hash_secret(token))
        return token

    def check_admin_token(self, token: str) -> bool:
        stored = self.get_setting("admin_token_hash")
        return bool(stored) and hmac.compare_digest(stored or "", hash_secret(token))

    # -- organisations ----------------------------------------------------

    def create_organisation(self, name: str, plan: str = "free") -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": new_id("org"),
            "name": name,
            "plan": plan,
            "created_at": _now_ms(),
        }
        with self.engine.begin() as conn:
            conn.execute(organisations.insert().values(**row))
        return self.get_organisation(row["id"]) or row

    def get_organisation(self, org_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            found = (
                conn.execute(sa.select(organisations).where(organisations.c.id == org_id))
                .mappings()
                .first()
            )
        return dict(found) if found else None

    def list_organisations(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(organisations).order_by(organisations.c.created_at))
            return [dict(r) for r in rows.mappings()]

    def update_organisation(self, org_id: str, **values: Any) -> dict[str, Any] | None:
        if values:
            with self.engine.begin() as conn:
                conn.execute(
                    organisations.update().where(organisations.c.id == org_id).values(**values)
                )
        return self.get_organisation(org_id)

    # -- usage ------------------------------------------------------------

    def get_usage(self, org_id: str, month: str) -> tuple[int, int]:
        """Entries counted for an organisation in a month, and how many were overage."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(usage.c.count, usage.c.overage).where(
                    usage.c.org_id == org_id, usage.c.month == month
                )
            ).first()
        return (int(found[0]), int(found[1])) if found else (0, 0)

    def add_usage(self, org_id: str, month: str, count: int, overage: int) -> None:
        """Add to an organisation's monthly counters (one upsert: nodes may add at once)."""
        insert = _insert_for(self.engine)(usage).values(
            org_id=org_id, month=month, count=count, overage=overage
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[usage.c.org_id, usage.c.month],
            set_={"count": usage.c.count + count, "overage": usage.c.overage + overage},
        )
        with self.engine.begin() as conn:
            conn.execute(upsert)

    # -- debounce ---------------------------------------------------------

    def debounce_hit(
        self, project_id: str, key_hash: str, now_ms: int
    ) -> tuple[int, int, int] | None:
        """Count a repeat in the key's open window: (first entry id, window end ms, new count),
        or None when no window is open."""
        with self.engine.begin() as conn:
            return _debounce_fold(conn, project_id, key_hash, now_ms)

    def debounce_claim(
        self, project_id: str, key_hash: str, entry_id: int, now_ms: int, window_end_ms: int
    ) -> tuple[int, int, int] | None:
        """Fold into the key's open window (as debounce_hit), or open one for `entry_id`
        (None): one decision, even when several nodes share the database."""
        with self._claim_lock, self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Serialises the decisions on one key across nodes, for this transaction.
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"debounce/{project_id}/{key_hash}"},
                )
            found = _debounce_fold(conn, project_id, key_hash, now_ms)
            if found is None:
                conn.execute(
                    debounce.insert().values(
                        project_id=project_id,
                        key_hash=key_hash,
                        entry_id=entry_id,
                        window_end_ms=window_end_ms,
                        count=1,
                        last_seen_ms=now_ms,
                    )
                )
            return found

    def debounce_open(
        self, project_id: str, key_hash: str, entry_id: int, now_ms: int, window_end_ms: int
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                debounce.insert().values(
                    project_id=project_id,
                    key_hash=key_hash,
                    entry_id=entry_id,
                    window_end_ms=window_end_ms,
                    count=1,
                    last_seen_ms=now_ms,
                )
            )

    def debounce_cancel(self, project_id: str, key_hash: str, entry_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                debounce.delete().where(
                    debounce.c.project_id == project_id,
                    debounce.c.key_hash == key_hash,
                    debounce.c.entry_id == entry_id,
                )
            )

    def debounce_projects(self) -> set[str]:
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.select(debounce.c.project_id).distinct())}

    def debounce_counts(self, project_id: str, entry_ids: list[int]) -> list[tuple[int, int, int]]:
        """(entry id, count, last seen ms) of the given first entries."""
        out: list[tuple[int, int, int]] = []
        with self.engine.connect() as conn:
            for start in range(0, len(entry_ids), 500):
                chunk = entry_ids[start : start + 500]
                out += [
                    (int(r[0]), int(r[1]), int(r[2]))
                    for r in conn.execute(
                        sa.select(
                            debounce.c.entry_id, debounce.c.count, debounce.c.last_seen_ms
                        ).where(debounce.c.project_id == project_id, debounce.c.entry_id.in_(chunk))
                    )
                ]
        return out

    # -- projects ---------------------------------------------------------

    def create_project(
        self,
        org_id: str,
        name: str,
        retention_days: int = 30,
        allowed_origins: list[str] | None = None,
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": new_id("prj"),
            "org_id": org_id,
            "name": name,
            "active": True,
            "retention_days": retention_days,
            "allowed_origins": msgspec.json.encode(allowed_origins or []).decode(),
            "created_at": _now_ms(),
        }
        with self.engine.begin() as conn:
            conn.execute(projects.insert().values(**row))
        return self.get_project(row["id"]) or row

    def get_project(self, project_id: str, include_deleted: bool = False) -> dict[str, Any] | None:
        query = sa.select(projects).where(projects.c.id == project_id)
        if not include_deleted:
            query = query.where(projects.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().first()
        return _project(found) if found else None

    def list_projects(
        self, org_id: str | None = None, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        query = sa.select(projects)
        if not include_deleted:
            query = query.where(projects.c.deleted_at.is_(None))
        if org_id is not None:
            query = query.where(projects.c.org_id == org_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(projects.c.created_at)).mappings()
            return [_project(r) for r in rows]

    def update_project(self, project_id: str, **values: Any) -> dict[str, Any] | None:
        if "allowed_origins" in values:
            values["allowed_origins"] = msgspec.json.encode(values["allowed_origins"]).decode()
        if values:
            with self.engine.begin() as conn:
                conn.execute(projects.update().where(projects.c.id == project_id).values(**values))
        return self.get_project(project_id)

    def delete_project(self, project_id: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                projects.update()
                .where(projects.c.id == project_id, projects.c.deleted_at.is_(None))
                .values(deleted_at=_now_ms(), active=False)
            ).rowcount
        return bool(done)

    # -- keys -------------------------------------------------------------

    def create_key(self, project_id: str, kind: str) -> tuple[dict[str, Any], str]:
        """A new key for a project; the secret is returned once and stored only hashed."""
        prefix, _ = KEY_KINDS[kind]
        secret = f"{prefix}_{secrets.token_urlsafe(24)}"
        row = {
            "id": new_id("key"),
            "project_id": project_id,
            "kind": kind,
            "hash": hash_secret(secret),
            "hint": secret[:3] + "…" + secret[-4:],
            "created_at": _now_ms(),
        }
        with self.engine.begin() as conn:
            conn.execute(api_keys.insert().values(**row))
        return _key(row), secret

    def list_keys(self, project_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(api_keys)
                .where(api_keys.c.project_id == project_id)
                .order_by(api_keys.c.created_at)
            ).mappings()
            return [_key(r) for r in rows]

    def revoke_key(self, key_id: str) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now_ms())
            ).rowcount
        return bool(done)

    def get_key(self, key_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            found = (
                conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
            )
        return _key(found) if found else None

    def lookup_key(self, secret: str) -> KeyInfo | None:
        """The grant of a live key, or None when it is unknown or revoked."""
        digest = hash_secret(secret)
        query = (
            sa.select(
                api_keys.c.id,
                api_keys.c.kind,
                api_keys.c.hash,
                projects.c.id.label("project_id"),
                projects.c.org_id,
                projects.c.active,
                projects.c.deleted_at,
                projects.c.allowed_origins,
            )
            .join(projects, projects.c.id == api_keys.c.project_id)
            .where(api_keys.c.hash == digest, api_keys.c.revoked_at.is_(None))
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().first()
        if found is None or not hmac.compare_digest(found["hash"], digest):
            return None
        return KeyInfo(
            key_id=found["id"],
            kind=found["kind"],
            scopes=KEY_KINDS[found["kind"]][1],
            project_id=found["project_id"],
            org_id=found["org_id"],
            project_active=bool(found["active"]) and found["deleted_at"] is None,
            allowed_origins=tuple(msgspec.json.decode(found["allowed_origins"] or "[]")),
        )


def _project(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["allowed_origins"] = msgspec.json.decode(out.get("allowed_origins") or "[]")
    out["active"] = bool(out["active"])
    return out


def _key(row: Any) -> dict[str, Any]:
    out = dict(row)
    out.pop("hash", None)
    return out


def _debounce_fold(
    conn: sa.Connection, project_id: str, key_hash: str, now_ms: int
) -> tuple[int, int, int] | None:
    """Count a repeat in the key's open window, in the caller's transaction."""
    found = conn.execute(
        sa.select(debounce.c.id, debounce.c.entry_id, debounce.c.window_end_ms, debounce.c.count)
        .where(
            debounce.c.project_id == project_id,
            debounce.c.key_hash == key_hash,
            debounce.c.window_end_ms > now_ms,
        )
        .order_by(debounce.c.window_end_ms.desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    conn.execute(
        debounce.update()
        .where(debounce.c.id == found.id)
        .values(count=debounce.c.count + 1, last_seen_ms=now_ms)
    )
    values = found._mapping
    return int(values["entry_id"]), int(values["window_end_ms"]), int(values["count"]) + 1


def _insert_for(engine: sa.Engine) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO UPDATE (SQLite 3.24+, PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
