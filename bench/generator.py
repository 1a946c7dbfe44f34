"""A realistic log generator shared by the benchmarks: varied messages, 3-6 fields,
skewed levels and services, deterministic for a seed."""

from __future__ import annotations

import random
import time
from typing import Any

LEVELS = [("info", 70), ("debug", 12), ("warn", 9), ("error", 6), ("trace", 2), ("success", 0.6), ("fatal", 0.4)]
SERVICES = ["api", "web", "worker", "auth", "payments", "search", "mailer", "scheduler",
            "gateway", "inventory", "billing", "notifications"]
ENVIRONMENTS = [("production", 80), ("staging", 15), ("development", 5)]
ROUTES = ["/api/orders", "/api/orders/{id}", "/api/users/{id}", "/api/cart", "/api/search",
          "/health", "/api/payments/{id}/capture", "/webhooks/stripe", "/api/products", "/login"]
METHODS = [("GET", 70), ("POST", 20), ("PUT", 5), ("DELETE", 5)]
REGIONS = ["eu-west-1", "us-east-1", "us-west-2", "ap-south-1"]
ERRORS = ["ECONNREFUSED", "ETIMEDOUT", "TypeError", "ValidationError", "DeadlockDetected", "CardDeclined"]
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
         "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def _weighted(rng: random.Random, table: list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


class Generator:
    """Makes log entries in the JSON input vocabulary."""

    def __init__(self, seed: int = 1, start: float | None = None, span_seconds: float = 3600) -> None:
        self.rng = random.Random(seed)
        self.start = start if start is not None else time.time() - span_seconds
        self.span = span_seconds
        # Zipf-like skew over services: the first few produce most logs.
        self.service_weights = [1 / (i + 1) ** 1.1 for i in range(len(SERVICES))]

    def message(self, level: str, route: str, method: str, status: int, ms: int) -> str:
        r = self.rng
        uid, oid = r.randint(1, 50_000), r.randint(10_000, 9_999_999)
        kind = r.randint(0, 9)
        if level in ("error", "fatal"):
            err = r.choice(ERRORS)
            return r.choice([
                f"{err}: connection refused to db-{r.randint(1, 4)}.internal:5432 after {ms}ms",
                f"Payment {oid} failed: {err} (user {uid})",
                f"Unhandled {err} in {route} for order {oid}",
                f"Job sync-{r.choice(WORDS)} failed after {r.randint(1, 5)} attempts: {err}",
            ])
        if level == "warn":
            return r.choice([
                f"Slow query on orders took {ms}ms (threshold 500ms)",
                f"Retrying request to {r.choice(SERVICES)} ({r.randint(1, 3)}/3)",
                f"Cache miss for key user:{uid}:profile",
                f"Rate limit at {r.randint(70, 99)}% for tenant {r.randint(1, 300)}",
            ])
        if kind < 6:
            return f"{method} {route.replace('{id}', str(oid))} {status} in {ms}ms"
        if kind < 8:
            return f"User {uid} signed in from 10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        return f"Processed {r.randint(1, 500)} {r.choice(WORDS)} events in {ms}ms for batch {oid}"

    def entry(self, index: int = 0) -> dict[str, Any]:
        r = self.rng
        level = _weighted(r, LEVELS)
        service = r.choices(SERVICES, self.service_weights)[0]
        route = r.choice(ROUTES)
        method = _weighted(r, METHODS)
        status = 500 if level in ("error", "fatal") else r.choice([200, 200, 200, 201, 204, 304, 404])
        ms = int(r.lognormvariate(3.5, 1.0))
        ts = self.start + r.random() * self.span
        fields: dict[str, Any] = {"route": route, "durationMs": ms, "status": status}
        extra = [("method", method), ("region", r.choice(REGIONS)), ("bytes", r.randint(100, 90_000)),
                 ("userId", f"user_{r.randint(1, 50_000)}"), ("cache", r.choice(["hit", "miss"]))]
        for key, value in r.sample(extra, r.randint(0, 3)):
            fields[key] = value
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z",
            "level": level,
            "message": self.message(level, route, method, status, ms),
            "service": service,
            "environment": _weighted(r, ENVIRONMENTS),
            "fields": fields,
        }
        if r.random() < 0.3:
            entry["requestId"] = f"req_{r.getrandbits(48):012x}"
        if r.random() < 0.2:
            entry["sessionId"] = f"sess_{r.randint(1, 20_000)}"
        return entry

    def batch(self, size: int) -> list[dict[str, Any]]:
        return [self.entry(i) for i in range(size)]
