"""Plans, monthly quotas and rate limits (SPEC §4).

Counters live in memory, where a check and its increment happen without an
await in between (exact under concurrency on one node), and are written to
the metadata store every second and at shutdown, so they survive restarts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import TimberyardError
from .storage.meta import MetaStore

if TYPE_CHECKING:
    from .shared.counters import SharedCounters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """What a plan allows: logs per month (None: no limit), and requests per minute."""

    monthly_quota: int | None
    hard_limit: bool
    requests_per_minute: int | None


PLANS: dict[str, Plan] = {
    "free": Plan(10_000, True, 60),
    "pro": Plan(1_000_000, False, 600),
    "enterprise": Plan(None, False, None),
}


@dataclass(frozen=True)
class OrgLimits:
    """An organisation's plan with its overrides applied."""

    org_id: str
    plan: str
    monthly_quota: int | None
    hard_limit: bool
    requests_per_minute: int | None


def month_of(seconds: float) -> str:
    """The usage month (`2026-11`, UTC) of an instant."""
    start, end, label = _month_cache
    if start <= seconds < end:
        return label  # every request asks; formatting a date each time showed in profiles
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = first.replace(year=first.year + 1, month=1) if first.month == 12 else (
        first.replace(month=first.month + 1)
    )
    label = moment.strftime("%Y-%m")
    _month_cache[:] = [first.timestamp(), following.timestamp(), label]
    return label


_month_cache: list = [0.0, 0.0, ""]  # [start, end) of the last month asked for, and its label


class TokenBucket:
    """`rate` requests per minute with bursts up to the same number."""

    __slots__ = ("capacity", "per_second", "tokens", "stamp")

    def __init__(self, per_minute: int, now: float) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.tokens = float(per_minute)
        self.stamp = now

    def take(self, now: float) -> float:
        """0 when a request may pass (and is counted), else seconds to wait."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        if self.per_second <= 0:
            return 60.0
        return (1 - self.tokens) / self.per_second


# How long counts of organisations without a quota wait to go to the shared counters in one call.
COUNT_SECONDS = 0.05


class Limiter:
    """Rate limits per key, per organisation and per client address; monthly quotas."""

    def __init__(
        self,
        meta: MetaStore,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 5.0,
        enforce: bool = True,
        shared: SharedCounters | None = None,
    ) -> None:
        self.meta = meta
        # With several nodes: buckets and month counters in Redis (exact across nodes);
        # the in-process ones below stand in while Redis cannot be reached.
        self.shared = shared
        self._shared_down_logged = 0.0
        self.enforce = enforce
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._orgs: dict[str, tuple[OrgLimits, float]] = {}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._used: dict[tuple[str, str], list[int]] = {}  # (org, month) -> [count, overage]
        self._unsaved: dict[tuple[str, str], list[int]] = {}
        self._lock = threading.Lock()  # save() runs in a worker thread
        self.refused = {"rate": 0, "quota": 0}  # requests refused, for the metrics
        self._task: asyncio.Task[None] | None = None
        # Counts of organisations without a quota, not yet sent to the shared counters.
        self._uncounted: dict[tuple[str, str], int] = {}
        self._counting: asyncio.Task[None] | None = None

    # -- organisations ------------------------------------------------------

    def limits_of(self, org_id: str) -> OrgLimits:
        """The organisation's effective limits (cached for a few seconds)."""
        found = self._orgs.get(org_id)
        now = time.monotonic()
        if found and found[1] > now:
            return found[0]
        row = self.meta.get_organisation(org_id) or {"plan": "enterprise"}
        plan = PLANS.get(row.get("plan") or "free", PLANS["free"])
        quota = row.get("monthly_quota")
        rpm = row.get("rate_limit_per_minute")
        limits = OrgLimits(
            org_id=org_id,
            plan=row.get("plan") or "free",
            monthly_quota=plan.monthly_quota if quota is None else int(quota),
            hard_limit=plan.hard_limit,
            requests_per_minute=plan.requests_per_minute if rpm is None else int(rpm),
        )
        self._orgs[org_id] = (limits, now + self.cache_seconds)
        return limits

    def forget(self, org_id: str | None = None) -> None:
        """Drop cached limits after an admin change."""
        if org_id is None:
            self._orgs.clear()
        else:
            self._orgs.pop(org_id, None)
        self._buckets = {k: v for k, v in self._buckets.items() if org_id not in (None, k[1])}

    # -- rate limits --------------------------------------------------------

    def check_rate(
        self,
        org_id: str,
        key_id: str,
        client: str | None = None,
        client_per_minute: int | None = None,
    ) -> None:
        """Count one request; 429 with Retry-After when a limit is exceeded."""
        if not self.enforce:
            return
        limits = self.limits_of(org_id)
        wait = self._shared_take(limits, org_id, key_id, client, client_per_minute)
        self._rate_verdict(wait, limits, org_id, key_id, client, client_per_minute)

    async def check_rate_async(
        self,
        org_id: str,
        key_id: str,
        client: str | None = None,
        client_per_minute: int | None = None,
    ) -> None:
        """check_rate(), awaiting shared counters that answer asynchronously (the owner
        process of `serve --workers`) instead of blocking the event loop on them."""
        take = getattr(self.shared, "take_async", None)
        if take is None or not self.enforce:
            self.check_rate(org_id, key_id, client, client_per_minute)
            return
        limits = self.limits_of(org_id)
        buckets = self._shared_buckets(limits, org_id, key_id, client, client_per_minute)
        wait: float | None = 0.0
        if buckets:
            try:
                wait = await take(buckets)
            except Exception as exc:
                self._shared_down(exc)
                wait = None
        self._rate_verdict(wait, limits, org_id, key_id, client, client_per_minute)

    def _rate_verdict(
        self,
        wait: float | None,
        limits: OrgLimits,
        org_id: str,
        key_id: str,
        client: str | None,
        client_per_minute: int | None,
    ) -> None:
        """429 when the shared wait (None: no shared counters, use ours) says so."""
        now = self.clock()
        waits = []
        if wait is not None:
            waits.append(wait)
        elif limits.requests_per_minute is not None:
            for scope in (("org", org_id), ("key", key_id)):
                waits.append(self._bucket(scope, limits.requests_per_minute, now).take(now))
        if wait is None and client is not None and client_per_minute is not None:
            waits.append(
                self._bucket(("ip", f"{org_id}/{client}"), client_per_minute, now).take(now)
            )
        wait = max(waits, default=0.0)
        if wait > 0:
            self.refused["rate"] += 1
            seconds = max(1, math.ceil(wait))
            raise TimberyardError(
                "RATE_LIMITED",
                "Rate limit exceeded",
                headers={"Retry-After": str(seconds)},
                retryAfter=seconds,
            )

    def _shared_take(
        self,
        limits: OrgLimits,
        org_id: str,
        key_id: str,
        client: str | None,
        client_per_minute: int | None,
    ) -> float | None:
        """The wait from the shared buckets; None without Redis or while it is unreachable."""
        if self.shared is None:
            return None
        buckets = self._shared_buckets(limits, org_id, key_id, client, client_per_minute)
        if not buckets:
            return 0.0
        try:
            return self.shared.take(buckets)
        except Exception as exc:
            self._shared_down(exc)
            return None

    @staticmethod
    def _shared_buckets(
        limits: OrgLimits, org_id: str, key_id: str, client: str | None, per_minute: int | None
    ) -> list[tuple[str, int]]:
        """The (scope, requests per minute) buckets one request takes a token from."""
        buckets: list[tuple[str, int]] = []
        if limits.requests_per_minute is not None:
            rpm = limits.requests_per_minute
            buckets += [(f"org:{org_id}", rpm), (f"key:{key_id}", rpm)]
        if client is not None and per_minute is not None:
            buckets.append((f"ip:{org_id}/{client}", per_minute))
        return buckets

    def _shared_down(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._shared_down_logged > 10:
            self._shared_down_logged = now
            log.error("redis unreachable, limits are per node meanwhile: %s", exc)

    def _bucket(self, scope: tuple[str, str], per_minute: int, now: float) -> TokenBucket:
        bucket = self._buckets.get(scope)
        if bucket is None or bucket.capacity != per_minute:
            bucket = self._buckets[scope] = TokenBucket(per_minute, now)
        return bucket

    # -- quotas -------------------------------------------------------------

    def _counter(self, org_id: str, month: str) -> list[int]:
        key = (org_id, month)
        found = self._used.get(key)
        if found is None:
            found = self._used[key] = list(self.meta.get_usage(org_id, month))
        return found

    def reserve(self, org_id: str, count: int) -> bool:
        """Count `count` entries against the month's quota; True when over the quota.

        Hard-limit plans get a 402 and nothing is counted when the entries do not fit.
        """
        if not self.enforce:
            return False
        limits = self.limits_of(org_id)
        month = month_of(self.clock())
        shared = self._shared_reserve(limits, org_id, month, count)
        return self._quota_verdict(shared, limits, org_id, month, count)

    async def reserve_async(self, org_id: str, count: int) -> bool:
        """reserve(), awaiting shared counters that answer asynchronously (see check_rate_async)."""
        reserve = getattr(self.shared, "reserve_async", None)
        if reserve is None or not self.enforce:
            return self.reserve(org_id, count)
        limits = self.limits_of(org_id)
        month = month_of(self.clock())
        quota, hard = limits.monthly_quota, limits.hard_limit
        if quota is None:
            # Nothing to refuse, so nothing to wait for: the shared counter only keeps the
            # month's total, and gets this process's counts in batches (COUNT_SECONDS).
            key = (org_id, month)
            self._uncounted[key] = self._uncounted.get(key, 0) + count
            self._counter(org_id, month)[0] += count  # this process's view until they are sent
            self._pending(org_id, month, count, 0)
            if self._counting is None or self._counting.done():
                self._counting = asyncio.create_task(self._count_later(reserve))
            return False
        shared: tuple[bool, int, int] | None = None
        try:
            found = await reserve(org_id, month, count, quota, hard)
            if found is None:  # no counter yet: seed it from the metadata store
                seed = self._saved_total(org_id, month)
                found = await reserve(org_id, month, count, quota, hard, seed)
            shared = bool(found[0]), found[1], found[2]
        except Exception as exc:
            self._shared_down(exc)
        return self._quota_verdict(shared, limits, org_id, month, count)

    async def _count_later(self, reserve: Any) -> None:
        """Add the batched counts of unlimited organisations to the shared counters."""
        await asyncio.sleep(COUNT_SECONDS)
        batch, self._uncounted = self._uncounted, {}
        for (org_id, month), count in batch.items():
            try:
                if await reserve(org_id, month, count, None, False) is None:
                    # No counter yet: seed it with what is stored and unsaved, less what
                    # this batch and the next one add (both are in the unsaved counts).
                    stored, over = self._saved_total(org_id, month)
                    later = self._uncounted.get((org_id, month), 0)
                    await reserve(org_id, month, count, None, False, (stored - count - later, over))
            except Exception as exc:
                self._shared_down(exc)

    def _quota_verdict(
        self,
        shared: tuple[bool, int, int] | None,
        limits: OrgLimits,
        org_id: str,
        month: str,
        count: int,
    ) -> bool:
        """Count (or refuse) by the shared counter's answer, else by ours; True when over."""
        quota = limits.monthly_quota
        if shared is not None:
            counted, total, over = shared
            if not counted:
                self._refuse_quota(quota or 0, total, count)
            self._pending(org_id, month, count, over)
            return quota is not None and total >= quota
        used = self._counter(org_id, month)
        over = 0
        if quota is not None and used[0] + count > quota:
            if limits.hard_limit:
                self._refuse_quota(quota, used[0], count)
            over = min(count, used[0] + count - quota)
        used[0] += count
        used[1] += over
        self._pending(org_id, month, count, over)
        return quota is not None and used[0] >= quota

    def _refuse_quota(self, quota: int, used: int, count: int) -> None:
        self.refused["quota"] += 1
        left = max(0, quota - used)
        raise TimberyardError(
            "QUOTA_EXCEEDED",
            f"monthly quota of {quota} logs exhausted: {left} remain this month and"
            f" this request has {count}; upgrade the plan or wait for next month",
            limitReached=True,
            quota=quota,
            used=used,
        )

    def _pending(self, org_id: str, month: str, count: int, over: int) -> None:
        """Add to the counts the next save writes to the metadata store."""
        with self._lock:
            pending = self._unsaved.setdefault((org_id, month), [0, 0])
            pending[0] += count
            pending[1] += over

    def _shared_reserve(
        self, limits: OrgLimits, org_id: str, month: str, count: int
    ) -> tuple[bool, int, int] | None:
        """(counted, month total, overage) from Redis; None without it or while unreachable."""
        if self.shared is None:
            return None
        quota, hard = limits.monthly_quota, limits.hard_limit
        try:
            found = self.shared.reserve(org_id, month, count, quota, hard)
            if found is None:  # no counter in Redis yet: seed it from the metadata store
                seed = self._saved_total(org_id, month)
                found = self.shared.reserve(org_id, month, count, quota, hard, seed)
        except Exception as exc:
            self._shared_down(exc)
            return None
        assert found is not None
        return bool(found[0]), found[1], found[2]

    def _saved_total(self, org_id: str, month: str) -> tuple[int, int]:
        """The stored counts of every node, plus this node's not yet saved."""
        count, over = self.meta.get_usage(org_id, month)
        with self._lock:
            pending = self._unsaved.get((org_id, month), [0, 0])
            return count + pending[0], over + pending[1]

    def release(self, org_id: str, count: int) -> None:
        """Give back a reservation whose entries were not stored after all."""
        if not self.enforce:
            return
        month = month_of(self.clock())
        limits = self.limits_of(org_id)
        if self.shared is not None:
            try:
                over = self.shared.release(org_id, month, count, limits.monthly_quota)
            except Exception as exc:
                self._shared_down(exc)
            else:
                self._pending(org_id, month, -count, -over)
                return
        used = self._counter(org_id, month)
        over = 0
        if limits.monthly_quota is not None:
            over = max(0, min(count, used[0] - limits.monthly_quota))
        used[0] -= count
        used[1] -= over
        self._pending(org_id, month, -count, -over)

    def usage(self, org_id: str, month: str | None = None) -> dict[str, Any]:
        """The organisation's usage document for a month (default: this one)."""
        limits = self.limits_of(org_id)
        month = month or month_of(self.clock())
        shared = self._shared_usage(org_id, month)
        if shared is not None:  # with what this process has not sent yet (reserve_async)
            shared = (shared[0] + self._uncounted.get((org_id, month), 0), shared[1])
        used, overage = shared or self._counter(org_id, month)
        quota = limits.monthly_quota
        return {
            "organisation": org_id,
            "plan": limits.plan,
            "month": month,
            "used": used,
            "quota": quota,
            "remaining": None if quota is None else max(0, quota - used),
            "overage": overage,
            "limitReached": quota is not None and used >= quota,
            "hardLimit": limits.hard_limit,
            "rateLimitPerMinute": limits.requests_per_minute,
        }

    def _shared_usage(self, org_id: str, month: str) -> tuple[int, int] | None:
        if self.shared is None:
            return None
        try:
            return self.shared.usage(org_id, month)
        except Exception as exc:
            self._shared_down(exc)
            return None

    # -- persistence ----------------------------------------------------------

    def save(self) -> None:
        """Write the counts taken since the last save to the metadata store."""
        with self._lock:
            pending, self._unsaved = self._unsaved, {}
        try:
            for key in list(pending):
                count, over = pending[key]
                if count or over:
                    self.meta.add_usage(key[0], key[1], count, over)
                del pending[key]  # written: each add_usage is its own transaction
        finally:
            # What was not written goes back, added to what was counted meanwhile,
            # so a database error delays the counts instead of dropping them.
            if pending:
                with self._lock:
                    for key, (count, over) in pending.items():
                        slot = self._unsaved.setdefault(key, [0, 0])
                        slot[0] += count
                        slot[1] += over

    async def start(self, period: float = 1.0) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(period)
                try:
                    await asyncio.to_thread(self.save)
                except Exception:
                    log.exception("saving usage counters failed; retrying")

        self._task = asyncio.create_task(loop(), name="usage-saver")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._counting is not None:
            await asyncio.gather(self._counting, return_exceptions=True)
        await asyncio.to_thread(self.save)
