"""Prometheus metrics of one app: request counters from a middleware, the rest read at scrape.

Each app has its own registry (never prometheus-client's global one), so apps built
in one process, as the tests build them, do not clash. Counters that live in the
services already (pipeline, broker, dispatcher, limiter) are read when scraped; only
what has no home elsewhere (requests by route, latencies) is counted here.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The registry of one app and the instruments that are observed as things happen."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "timberyard_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_bytes = Counter(
            "timberyard_http_request_body_bytes",
            "request body bytes received (as sent, before gunzip), by route template",
            ["route"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "timberyard_http_request_duration_seconds",
            "time to answer a request (to its last byte), by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.insert_seconds = Histogram(
            "timberyard_store_insert_duration_seconds",
            "time of one batch insert into the entry store",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.flush_lag = Histogram(
            "timberyard_flush_lag_seconds",
            "time from a batch's oldest WAL record being durable to the batch being stored",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # The store's memory accounting as last read (read_store_memory), for the scrape.
        self.store_memory: dict[str, int] | None = None

    def read_store_memory(self, store: Any) -> None:
        """Read the store's memory accounting for the next render (blocking: run in a thread)."""
        try:
            self.store_memory = store.memory()
        except Exception as exc:  # a scrape never fails for the store being away
            log.debug("store memory not readable: %s", exc)
            self.store_memory = None

    def attach(self, services: Services) -> None:
        """Read the services' own counters at scrape time and observe the pipeline's timings."""
        self.registry.register(ServiceCollector(services))
        services.pipeline.observers.append(self._observe_pipeline)

    def _observe_pipeline(self, name: str, seconds: float) -> None:
        (self.insert_seconds if name == "insert" else self.flush_lag).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything registered."""
        return generate_latest(self.registry)


class ServiceCollector(Collector):
    """Gauges and counters that the services keep themselves, read when scraped."""

    def __init__(self, services: Services) -> None:
        self.svc = services

    def collect(self) -> Iterator[Any]:
        svc = self.svc
        stats = svc.pipeline.stats()
        yield _gauge("timberyard_wal_unflushed_bytes", "WAL bytes not yet in the store",
                     stats["unflushedBytes"])  # fmt: skip
        yield _gauge("timberyard_wal_unflushed_rows", "WAL rows not yet in the store",
                     stats["queuedRows"])  # fmt: skip
        yield _gauge("timberyard_wal_segments", "WAL segment files on disk",
                     svc.pipeline.wal_segments())  # fmt: skip
        yield _counter("timberyard_store_flushed_rows", "rows inserted into the entry store",
                       stats["flushedRows"])  # fmt: skip
        yield _counter("timberyard_store_errors", "failed inserts into the entry store",
                       svc.pipeline.store_errors)  # fmt: skip
        yield _gauge("timberyard_ready", "1 once the WAL replay is stored and the store is up",
                     1 if svc.pipeline.ready() else 0)  # fmt: skip

        yield _labelled(
            "timberyard_ingested_entries",
            "entries accepted or rejected (invalid) by ingestion, per surface",
            ["surface", "outcome"],
            svc.ingestor.entry_counts,
        )
        yield _labelled(
            "timberyard_ingested_bytes",
            "body bytes (after gunzip) of the requests ingestion parsed, per surface",
            ["surface"],
            svc.ingestor.byte_counts,
        )
        yield _labelled(
            "timberyard_refused_requests",
            "requests refused by a rate limit (rate) or an exhausted hard quota (quota)",
            ["reason"],
            svc.limiter.refused,
        )

        tail = svc.tail.stats()
        yield _gauge("timberyard_tail_subscribers", "open live tails", tail["subscribers"])
        yield _counter("timberyard_tail_dropped", "live tails dropped for falling behind",
                       tail["dropped"])  # fmt: skip

        if svc.relay is not None:
            yield _labelled(
                "timberyard_relay_messages",
                "messages between nodes through Redis: published, received, dropped, and"
                " late rows (reached this node after their hold)",
                ["kind"],
                svc.relay.stats,
            )
        yield _labelled(
            "timberyard_notification_attempts",
            "delivery attempts of notifications by outcome (delivered, failed, retry, dropped)",
            ["outcome"],
            getattr(svc.dispatcher.log, "outcomes", {}),
        )
        yield _counter("timberyard_notifications", "notifications started",
                       svc.dispatcher.stats().get("notifications", 0))  # fmt: skip
        yield from memory_metrics(svc)


def memory_metrics(svc: Services) -> Iterator[Any]:
    """Where the memory goes: the store's own accounting, and Python's allocated blocks."""
    store = svc.metrics.store_memory
    if store is not None:
        family = GaugeMetricFamily(
            "timberyard_store_memory_bytes",
            "memory the entry store (ClickHouse) accounts for: everything it tracks, and its"
            " caches within that; embedded, this is part of the process's RSS",
            labels=["kind"],
        )
        for kind, value in store.items():
            family.add_metric([kind], value)
        yield family
    yield _gauge(
        "timberyard_python_allocated_blocks",
        "memory blocks currently allocated by the Python interpreter (sys.getallocatedblocks)",
        sys.getallocatedblocks(),
    )


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _labelled(name: str, doc: str, labels: list[str], counts: Mapping[Any, float]) -> Any:
    """A counter family with one sample per key of `counts` (a label value, or a tuple of them)."""
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(counts.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    return family


class CountingLog:
    """A delivery log that also counts attempts by status, for the metrics."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.outcomes: dict[str, int] = {}

    async def record(self, channel_id: str, delivery: Any) -> None:
        """Count the attempt, then write it to the wrapped log."""
        self.outcomes[delivery.status] = self.outcomes.get(delivery.status, 0) + 1
        await self.inner.record(channel_id, delivery)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class MetricsMiddleware:
    """Counts requests by route template and status, and times them (ASGI, streaming-safe)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: dict[Any, str]) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates
        # Labelled children by (route, method, status) and by route, bounded by the
        # route templates.
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[str, Any] = {}
        self._bytes: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            # The router put the matched endpoint in the scope; its template bounds the labels.
            route = self.templates.get(scope.get("endpoint"), "other")
            key = (route, scope["method"], status)
            counter = self._requests.get(key)
            if counter is None:  # children looked up once: labels() costs microseconds
                counter = self._requests[key] = self.metrics.requests.labels(
                    route, scope["method"], str(status)
                )
            counter.inc()
            latency = self._latency.get(route)
            if latency is None:
                latency = self._latency[route] = self.metrics.latency.labels(route)
            latency.observe(time.perf_counter() - started)
            if received:
                body_bytes = self._bytes.get(route)
                if body_bytes is None:
                    body_bytes = self._bytes[route] = self.metrics.request_bytes.labels(route)
                body_bytes.inc(received)
