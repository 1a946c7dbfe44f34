"""API keys as grants: the format of a key, and a short-lived cache of their lookups."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from .errors import TimberyardError
from .storage.meta import KIND_BY_PREFIX, KeyInfo, MetaStore

KEY_PATTERN = re.compile(r"^(sk|ik|rk|pk)_[A-Za-z0-9_\-]{16,128}$")


def invalid_key(message: str = "Invalid API key") -> TimberyardError:
    """The 401 of a missing, malformed, unknown or revoked key."""
    return TimberyardError("UNAUTHORIZED", message)


class KeyCache:
    """Short-lived cache of key lookups so the hot path does not hit the database."""

    def __init__(self, ttl: float = 5.0, negative_ttl: float = 1.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.size = size
        self._items: dict[str, tuple[KeyInfo | None, float]] = {}

    def get(self, secret: str) -> tuple[bool, KeyInfo | None]:
        found = self._items.get(secret)
        if found is None or found[1] < time.monotonic():
            return False, None
        return True, found[0]

    def put(self, secret: str, info: KeyInfo | None) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        ttl = self.ttl if info is not None else self.negative_ttl
        self._items[secret] = (info, time.monotonic() + ttl)

    def clear(self) -> None:
        self._items.clear()


class Keys:
    """Resolves a secret to its grant through the cache and the metadata store."""

    def __init__(self, meta: MetaStore, cache: KeyCache | None = None) -> None:
        self.meta = meta
        self.cache = cache or KeyCache()
        # Called after clear(): with several nodes, tells the others to clear theirs.
        self.on_clear: list[Callable[[], None]] = []

    def lookup(self, secret: str | None) -> KeyInfo:
        """The key's grant, or 401 when it is missing, malformed, unknown or revoked."""
        if not secret or not KEY_PATTERN.match(secret) or secret[:2] not in KIND_BY_PREFIX:
            raise invalid_key()
        hit, info = self.cache.get(secret)
        if not hit:
            info = self.meta.lookup_key(secret)
            self.cache.put(secret, info)
        if info is None:
            raise invalid_key()
        return info

    def clear(self) -> None:
        """Forget cached grants after an admin change (on every node, with Redis)."""
        self.cache.clear()
        for notify in self.on_clear:
            notify()
