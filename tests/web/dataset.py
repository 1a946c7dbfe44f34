"""The entries the dashboard tests search: a session, a flow, errors and background noise."""

from __future__ import annotations

from typing import Any

MINUTE = 60_000
SESSION = "sess-7f3a"
FLOW = "flow-42"

# Frontend and backend entries of one session, in time order (ingested shuffled).
SESSION_STEPS = [
    ("web", "info", "page loaded /checkout"),
    ("api", "info", "GET /api/cart 200"),
    ("web", "info", "clicked Pay"),
    ("api", "error", "payment failed: card declined"),
]
# A flow whose step order differs from its time order.
FLOW_STEPS = [(3, "receipt sent", 10), (1, "order created", 8), (2, "payment captured", 9)]
PAY_FIELDS = {"route": "/api/pay", "durationMs": 812, "customer": {"plan": "pro", "country": "DE"}}


def dataset(now: int) -> list[dict[str, Any]]:
    """Every entry of the test server, stamped relative to `now` (ms)."""
    start = now - 20 * MINUTE
    session = [
        {
            "service": service,
            "level": level,
            "message": message,
            "sessionId": SESSION,
            "timestamp": start + i * 1000,
            "environment": "production",
        }
        for i, (service, level, message) in enumerate(SESSION_STEPS)
    ]
    session[3].update(errorName="CardDeclined", fields=PAY_FIELDS, requestId="req-91")
    session.reverse()
    flow = [
        {
            "service": "orders",
            "level": "info",
            "message": message,
            "flowId": FLOW,
            "stepIndex": step,
            "timestamp": now - minutes_ago * MINUTE,
        }
        for step, message, minutes_ago in FLOW_STEPS
    ]
    billing = [
        {
            "service": "billing worker",
            "level": "warn",
            "message": f"invoice retry scheduled #{n}",
            "timestamp": now - (90 + n) * MINUTE,
            "tags": ["billing", "retry"],
        }
        for n in range(3)
    ]
    errors = [
        {
            "service": "api",
            "level": "error",
            "message": "DB connection refused",
            "errorName": "ECONNREFUSED",
            "timestamp": now - 12 * MINUTE,
            "errorStack": "Error: connect ECONNREFUSED 10.0.0.5:5432\n    at afterConnect (net:1)",
        },
    ]
    noise = [
        {
            "service": ("api", "web")[n % 2],
            "level": ("info", "debug")[n % 2],
            "message": "heartbeat ok",
            "host": f"node-{n % 3 + 1}",
            "timestamp": now - MINUTE - n * 90_000,
            "fields": {"n": n},
        }
        for n in range(30)
    ]
    return session + flow + billing + errors + noise
