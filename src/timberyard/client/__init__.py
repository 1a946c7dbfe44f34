"""Python client: `Client` (ingest, ingest_raw, search, tail), `TimberyardHandler` for logging."""

from __future__ import annotations

from .admin import AdminClient
from .client import Client
from .errors import APIError, ClientError, ConnectionFailed
from .formats import CONTENT_TYPES, FORMATS
from .handler import HandlerStats, TimberyardHandler
from .retry import Backoff

__all__ = [
    "APIError",
    "AdminClient",
    "Backoff",
    "CONTENT_TYPES",
    "Client",
    "ClientError",
    "ConnectionFailed",
    "FORMATS",
    "HandlerStats",
    "TimberyardHandler",
]
