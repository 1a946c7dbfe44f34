"""State shared by several nodes through Redis (`--redis redis://...`).

- `counters.RedisCounters`: rate-limit buckets and monthly quota counters, each
  check-and-count one Lua script, so limits are exact across nodes.
- `relay.Relay`: pub/sub between nodes: every node's durable rows for the live
  tails (merged in one id order, see relay.py), and invalidations of cached keys
  and limits after an admin change.

Debounce windows and alert deduplication are shared through the metadata store
instead (PostgreSQL when several nodes run): their state must outlive a Redis
restart (windows last up to 30 days, counts show on stored entries), and both are
claimed there in one statement per decision.
"""
