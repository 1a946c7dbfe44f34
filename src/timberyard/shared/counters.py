"""Rate-limit buckets and monthly quota counters in Redis, exact across nodes.

Each decision is one Lua script (atomic in Redis) over one round trip. The calls
are synchronous on purpose: `Ingestor.admit` and `Limiter.reserve` are synchronous
for every surface (a check and its increment with no await in between), and a
local Redis answers in well under a millisecond. Time is Redis's own (`TIME`), so
nodes whose clocks differ still share one bucket.

Quota counters hold the month's live total; each node still writes the counts it
took to the metadata store (Limiter.save), whose sum is the durable total that
seeds the Redis counter when Redis has none (after a Redis restart).
"""

from __future__ import annotations

from typing import Any, Protocol

import redis

# KEYS: bucket keys; ARGV: one capacity (requests per minute) per key.
# Returns the longest wait in seconds (as text: Lua numbers become integers).
_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local wait = 0
for i, key in ipairs(KEYS) do
  local cap = tonumber(ARGV[i])
  local rate = cap / 60.0
  local b = redis.call('HMGET', key, 'tokens', 'stamp', 'cap')
  local tokens = tonumber(b[1])
  local stamp = tonumber(b[2]) or t
  if tokens == nil or tonumber(b[3]) ~= cap then
    tokens = cap
  else
    tokens = math.min(cap, tokens + math.max(0, t - stamp) * rate)
  end
  local w = 0
  if tokens >= 1 then
    tokens = tokens - 1
  elseif rate > 0 then
    w = (1 - tokens) / rate
  else
    w = 60
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'stamp', tostring(t), 'cap', cap)
  redis.call('EXPIRE', key, 180)
  if w > wait then wait = w end
end
return tostring(wait)
"""

# KEYS[1]: the month's counter; ARGV: count, quota (-1: none), hard (1/0),
# seed count, seed overage (-1: no seed), ttl seconds.
# Returns {-1} when the counter is missing and no seed was given, {0, used} when a
# hard quota refuses, else {1, used after, overage added}.
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if tonumber(ARGV[4]) < 0 then return {-1} end
  redis.call('HSET', KEYS[1], 'count', ARGV[4], 'overage', ARGV[5])
end
local count = tonumber(ARGV[1])
local quota = tonumber(ARGV[2])
local used = tonumber(redis.call('HGET', KEYS[1], 'count'))
local over = 0
if quota >= 0 and used + count > quota then
  if ARGV[3] == '1' then return {0, used} end
  over = math.min(count, used + count - quota)
end
redis.call('HINCRBY', KEYS[1], 'count', count)
redis.call('HINCRBY', KEYS[1], 'overage', over)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return {1, used + count, over}
"""

# KEYS[1]: the month's counter; ARGV: count, quota (-1: none). Returns the overage given back.
_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local count = tonumber(ARGV[1])
local quota = tonumber(ARGV[2])
local used = tonumber(redis.call('HGET', KEYS[1], 'count'))
local over = 0
if quota >= 0 then over = math.max(0, math.min(count, used - quota)) end
redis.call('HINCRBY', KEYS[1], 'count', -count)
redis.call('HINCRBY', KEYS[1], 'overage', -over)
return over
"""

class SharedCounters(Protocol):
    """Counters shared by several processes: Redis's, or the owner's of `serve --workers`."""

    def take(self, buckets: list[tuple[str, int]]) -> float: ...

    def reserve(
        self,
        org_id: str,
        month: str,
        count: int,
        quota: int | None,
        hard: bool,
        seed: tuple[int, int] | None = None,
    ) -> tuple[int, int, int] | None: ...

    def release(self, org_id: str, month: str, count: int, quota: int | None) -> int: ...

    def usage(self, org_id: str, month: str) -> tuple[int, int] | None: ...

    def close(self) -> None: ...


MONTH_TTL = 40 * 86400  # a month's counter outlives its month, then goes


class RedisCounters:
    """Token buckets and quota counters of every node, in one Redis."""

    def __init__(self, url: str, prefix: str = "ty") -> None:
        self.client: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix
        self._take = self.client.register_script(_TAKE)
        self._reserve = self.client.register_script(_RESERVE)
        self._release = self.client.register_script(_RELEASE)

    def take(self, buckets: list[tuple[str, int]]) -> float:
        """Take a token from each (scope, per minute) bucket; the longest wait (0: all pass)."""
        keys = [f"{self.prefix}:rate:{scope}" for scope, _ in buckets]
        return float(self._take(keys=keys, args=[per_minute for _, per_minute in buckets]))

    def _usage_key(self, org_id: str, month: str) -> str:
        return f"{self.prefix}:usage:{org_id}:{month}"

    def reserve(
        self,
        org_id: str,
        month: str,
        count: int,
        quota: int | None,
        hard: bool,
        seed: tuple[int, int] | None = None,
    ) -> tuple[int, int, int] | None:
        """(1, used, overage) if counted, (0, used, 0) if a hard quota refuses; None: seed me."""
        key = self._usage_key(org_id, month)
        seeded = seed or (-1, -1)
        args = [count, -1 if quota is None else quota, 1 if hard else 0, *seeded, MONTH_TTL]
        result = self._reserve(keys=[key], args=args)
        if int(result[0]) < 0:
            return None
        if int(result[0]) == 0:
            return 0, int(result[1]), 0
        return 1, int(result[1]), int(result[2])

    def release(self, org_id: str, month: str, count: int, quota: int | None) -> int:
        """Give back `count`; the overage that went with it."""
        key = self._usage_key(org_id, month)
        return int(self._release(keys=[key], args=[count, -1 if quota is None else quota]))

    def usage(self, org_id: str, month: str) -> tuple[int, int] | None:
        """(count, overage) of the month, or None when Redis holds no counter for it."""
        found = self.client.hmget(self._usage_key(org_id, month), "count", "overage")
        if found[0] is None:
            return None
        return int(found[0]), int(found[1] or 0)

    def close(self) -> None:
        self.client.close()
