"""Limits shared through a real Redis by several Limiters (nodes), and the relay's id order."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from daemons import Redis
from timberyard.clock import Clock
from timberyard.errors import TimberyardError
from timberyard.limits import Limiter, month_of
from timberyard.shared.counters import RedisCounters
from timberyard.shared.relay import Relay
from timberyard.storage.meta import MetaStore

NOW = 1_795_000_000.0


@pytest.fixture
def shared(redis_server: Redis, meta_url: str) -> Any:
    """(meta store, factory of Limiters that share one Redis: one per node)."""
    redis_server.flush()
    meta = MetaStore(meta_url)
    meta.create()
    made: list[RedisCounters] = []

    def node() -> Limiter:
        counters = RedisCounters(redis_server.url())
        made.append(counters)
        return Limiter(meta, Clock(fixed=NOW), shared=counters)

    yield meta, node
    for counters in made:
        counters.close()
    meta.close()


def passes(limiter: Limiter, org: str, key: str) -> bool:
    try:
        limiter.check_rate(org, key)
        return True
    except TimberyardError as exc:
        assert exc.status == 429 and int(exc.headers["Retry-After"]) >= 1
        return False


def test_rate_limit_is_shared_by_the_nodes(shared: Any) -> None:
    meta, node = shared
    org = meta.create_organisation("o", "free")["id"]  # 60 requests a minute
    a, b = node(), node()
    results = [passes(n, org, "key_1") for _ in range(50) for n in (a, b)]
    assert 60 <= results.count(True) <= 61  # 61: a token refilled while the loop ran
    assert a.refused["rate"] + b.refused["rate"] == results.count(False)


def test_hard_quota_is_exact_across_nodes_under_concurrency(shared: Any) -> None:
    meta, node = shared
    org = meta.create_organisation("o", "free")["id"]
    meta.update_organisation(org, monthly_quota=500)
    limiters = [node() for _ in range(4)]
    refused = []

    def reserve(limiter: Limiter) -> None:
        for _ in range(25):
            try:
                limiter.reserve(org, 10)
            except TimberyardError as exc:
                assert exc.status == 402
                refused.append(1)

    threads = [threading.Thread(target=reserve, args=(n,)) for n in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(refused) == 50
    assert all(n.usage(org)["used"] == 500 for n in limiters)
    for n in limiters:
        n.save()
    assert meta.get_usage(org, month_of(NOW)) == (500, 0)  # the sum of what each node took


# (operations on nodes a/b, expected (used, overage) after them), on a pro plan with a quota of 10
QUOTA_CASES = [
    ([("a", "reserve", 6), ("b", "reserve", 6)], (12, 2)),
    ([("a", "reserve", 12), ("b", "release", 12)], (0, 0)),
    ([("a", "reserve", 8), ("b", "reserve", 4), ("a", "release", 4)], (8, 0)),
]


@pytest.mark.parametrize(("operations", "expected"), QUOTA_CASES)
def test_overage_and_release_across_nodes(shared: Any, operations: list[Any], expected: tuple[int, int]) -> None:
    meta, node = shared
    org = meta.create_organisation("o", "pro")["id"]
    meta.update_organisation(org, monthly_quota=10)
    nodes = {"a": node(), "b": node()}
    for name, op, count in operations:
        getattr(nodes[name], op)(org, count)
    doc = nodes["b"].usage(org)
    assert (doc["used"], doc["overage"]) == expected


def test_counter_is_seeded_from_the_metadata_store(shared: Any, redis_server: Redis) -> None:
    meta, node = shared
    org = meta.create_organisation("o", "free")["id"]
    meta.add_usage(org, month_of(NOW), 9_995, 0)  # counted before Redis held anything
    a = node()
    a.reserve(org, 5)
    with pytest.raises(TimberyardError):
        a.reserve(org, 1)
    redis_server.flush()  # Redis restarted empty: the stored total plus this node's unsaved seed it
    with pytest.raises(TimberyardError):
        a.reserve(org, 1)
    a.save()
    redis_server.flush()
    with pytest.raises(TimberyardError):
        node().reserve(org, 1)


def test_unreachable_redis_falls_back_to_the_node(meta_url: str) -> None:
    meta = MetaStore(meta_url)
    meta.create()
    org = meta.create_organisation("o", "free")["id"]
    limiter = Limiter(meta, Clock(fixed=NOW), shared=RedisCounters("redis://127.0.0.1:1/0"))
    assert sum(passes(limiter, org, "k") for _ in range(61)) == 60  # in-process bucket
    limiter.reserve(org, 3)
    assert limiter.usage(org)["used"] == 3
    meta.close()


def rows(*ids: int) -> list[dict[str, Any]]:
    return [{"id": i} for i in ids]


def ms(n: int, k: int = 0) -> int:
    return (n << 20) + k


def test_relay_releases_every_nodes_rows_in_id_order() -> None:
    published: list[tuple[str, list[int]]] = []
    relay = Relay("redis://127.0.0.1:1/0", lambda p, r: published.append((p, [x["id"] for x in r])),
                  lambda: None, hold_seconds=0.25, clock=lambda: 0.0)
    relay.rows("p1", rows(ms(1000, 0), ms(1000, 1)))  # this node
    relay._hold("p1", rows(ms(999, 1 << 17), ms(1001, 1 << 17)))  # another node, interleaved
    relay._hold("p2", rows(ms(1000, 5 << 17)))
    relay._release(1.0005)  # up to millisecond 1000
    assert published == [("p1", [ms(999, 1 << 17), ms(1000, 0), ms(1000, 1)]), ("p2", [ms(1000, 5 << 17)])]
    relay._hold("p1", rows(ms(1000, 2)))  # arrives after its millisecond was released: late
    relay._release(1.0015)
    assert published[2:] == [("p1", [ms(1000, 2), ms(1001, 1 << 17)])] and relay.stats["late"] == 1
