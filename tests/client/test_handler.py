"""`TimberyardHandler`: records arrive complete; it never blocks or raises; it flushes at exit."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest

from serverproc import free_port
from timberyard.client import TimberyardHandler
from timberyard.client.records import level_of

from .conftest import Live


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"shop.checkout.{uuid.uuid4().hex[:6]}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


@pytest.mark.parametrize(
    ("levelno", "level"),
    [
        (5, "trace"),
        (logging.DEBUG, "debug"),
        (logging.INFO, "info"),
        (25, "info"),
        (logging.WARNING, "warn"),
        (logging.ERROR, "error"),
        (logging.CRITICAL, "fatal"),
        (60, "fatal"),
    ],
)
def test_level_mapping(levelno: int, level: str) -> None:
    assert level_of(levelno) == level


def test_records_arrive_with_level_fields_and_error_stack(
    live: Live, logger: logging.Logger
) -> None:
    env = f"h-{uuid.uuid4().hex[:8]}"
    handler = TimberyardHandler(
        live.url,
        live.key,
        environment=env,
        dataset="app",
        session_id="sess-1",
        fields={"region": "eu"},
        version="1.2.3",
        flush_interval=0.1,
    )
    logger.addHandler(handler)

    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    before = time.time()
    logger.info(
        "order %s placed",
        42,
        extra={"orderId": 42, "cart": {"items": [1, 2]}, "thing": Opaque(), "requestId": "req-9"},
    )
    logger.debug("details")
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        logger.exception("payment failed")
    logger.critical("down", extra={"tags": ["pager"]})
    handler.close()
    assert handler.stats.sent == 4 and handler.stats.failed == 0, handler.stats

    got = {e["message"]: e for e in live.wait_logs(f"environment:{env}", 4)}
    placed = got["order 42 placed"]
    assert placed["level"] == "info" and placed["service"] == "shop"
    assert placed["dataset"] == "app" and placed["sessionId"] == "sess-1"
    assert placed["version"] == "1.2.3" and placed["requestId"] == "req-9"
    assert placed["host"]
    assert placed["fields"] == {
        "region": "eu",
        "logger": logger.name,
        "orderId": 42,
        "cart": {"items": [1, 2]},
        "thing": "<Opaque>",
    }
    assert before * 1000 - 1 <= placed["timestamp"] <= time.time() * 1000
    assert got["details"]["level"] == "debug"
    failed = got["payment failed"]
    assert failed["level"] == "error" and failed["errorName"] == "ZeroDivisionError"
    assert failed["errorStack"].startswith("Traceback (most recent call last):")
    assert "1 / 0" in failed["errorStack"] and "division by zero" in failed["errorStack"]
    assert got["down"]["level"] == "fatal" and got["down"]["tags"] == ["pager"]


def test_close_sends_what_is_queued_in_batches(live: Live, logger: logging.Logger) -> None:
    handler = TimberyardHandler(live.url, live.key, service="batcher", flush_interval=60)
    logger.addHandler(handler)
    for i in range(2500):
        logger.info("batched %d", i)
    handler.close()
    assert handler.stats.sent == 2500 and handler.stats.batches == 3, handler.stats
    assert len(live.wait_logs("service:batcher", 2500)) == 2500


def test_a_dead_server_never_raises_nor_blocks(logger: logging.Logger) -> None:
    handler = TimberyardHandler(
        f"http://127.0.0.1:{free_port()}",
        "sk_" + "x" * 32,
        queue_size=100,
        batch_size=50,
        close_timeout=0.5,
    )
    logger.addHandler(handler)
    slowest = 0.0
    started = time.perf_counter()
    for i in range(2000):
        t = time.perf_counter()
        logger.error("lost %d", i, extra={"i": i})
        slowest = max(slowest, time.perf_counter() - t)
    per_call = (time.perf_counter() - started) / 2000
    # Blocking would mean waiting out a connection attempt; a loaded CI machine can still
    # stall one call for a scheduler slice or a collection, hence the loose single-call bound.
    assert slowest < 0.25 and per_call < 0.002, (slowest, per_call)
    handler.flush(timeout=0.2)  # returns, undelivered
    t = time.perf_counter()
    handler.close()
    assert time.perf_counter() - t < 2.0
    stats = handler.stats
    assert stats.queued == 2000 and stats.sent == 0
    assert stats.dropped > 0 and stats.failed > 0
    assert stats.dropped + stats.failed <= 2000
    assert "connection refused" in (stats.last_error or "")
    logger.error("after close")  # still harmless
    assert handler.stats.dropped == stats.dropped


def test_its_own_http_logging_does_not_feed_back(live: Live) -> None:
    env = f"r-{uuid.uuid4().hex[:8]}"
    root = logging.getLogger()
    level = root.level
    handler = TimberyardHandler(live.url, live.key, environment=env, flush_interval=0.05)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        logging.getLogger("app").warning("only me")
        assert handler.drain(timeout=5)
        time.sleep(0.2)  # give httpx time to log its request (it must not be queued)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
    assert [e["message"] for e in live.wait_logs(f"environment:{env}", 1)] == ["only me"]


def test_records_are_flushed_at_exit(live: Live) -> None:
    env = f"x-{uuid.uuid4().hex[:8]}"
    script = textwrap.dedent(f"""
        import logging
        from timberyard.client import TimberyardHandler
        log = logging.getLogger("exiting")
        log.addHandler(TimberyardHandler({live.url!r}, {live.key!r}, environment={env!r},
                                         flush_interval=3600))
        for i in range(5):
            log.warning("bye %d", i)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    got = live.wait_logs(f"environment:{env}", 5)
    assert sorted(e["message"] for e in got) == [f"bye {i}" for i in range(5)]
    assert {e["service"] for e in got} == {"exiting"}


def test_a_forked_child_gets_its_own_worker(live: Live) -> None:
    env = f"f-{uuid.uuid4().hex[:8]}"
    script = textwrap.dedent(f"""
        import logging, os
        from timberyard.client import TimberyardHandler
        handler = TimberyardHandler({live.url!r}, {live.key!r}, environment={env!r},
                                    flush_interval=3600)
        log = logging.getLogger("forky")
        log.addHandler(handler)
        log.warning("before fork")
        pid = os.fork()
        if pid == 0:
            log.warning("in child")
            handler.close()
            os._exit(0 if handler.stats.sent == 1 else 3)
        _, status = os.waitpid(pid, 0)
        log.warning("in parent")
        handler.close()
        raise SystemExit(os.waitstatus_to_exitcode(status) or (handler.stats.sent != 2))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    got = live.wait_logs(f"environment:{env}", 3)
    assert sorted(e["message"] for e in got) == ["before fork", "in child", "in parent"]
