"""L1 cache: a small TTL cache per warm Lambda environment.

Entries expire after their TTL; callers that must never serve stale data key entries by a
version (``("agent", tenant, agent_id)`` → value carrying its version) or invalidate them on
write. Time comes from an injectable clock so tests control expiry without sleeping.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

V = TypeVar("V")

_MISSING = object()


class TTLCache[V]:
    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        entry = self._data.get(key)
        if entry is None:
            self.misses += 1
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._data[key]
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def set(self, key: Hashable, value: V, ttl_seconds: float | None = None) -> None:
        self._data[key] = (self._clock() + (ttl_seconds or self.ttl), value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = load()
            self.set(key, value)
        return value

    def invalidate(self, key: Hashable) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
