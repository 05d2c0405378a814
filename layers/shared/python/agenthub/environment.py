"""Per-environment state: what a warm Lambda environment keeps between invocations.

Settings, AWS clients, caches and circuit breakers all register here, so one call forgets
them: ``reset()`` forgets what changes behaviour (settings, caches, breakers, cached secrets);
``reset(cold=True)`` also the connections (clients, the table binding), as a new environment
starts without them. Lambda itself never resets anything; tests and the bench do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from agenthub.cache import TTLCache

_forgetters: list[tuple[Callable[[], None], bool]] = []


def on_reset(forget: Callable[[], None], *, cold: bool = False) -> None:
    """Call ``forget`` on every ``reset()`` (with ``cold``: only on a cold one)."""
    _forgetters.append((forget, cold))


def cached[F: Callable[..., Any]](func: F) -> F:
    """``functools.cache`` for the life of the environment, forgotten by every ``reset()``."""
    kept = functools.cache(func)
    on_reset(kept.cache_clear)
    return cast(F, kept)


def connection[F: Callable[..., Any]](func: F) -> F:
    """``functools.cache`` for a client or binding: forgotten only by ``reset(cold=True)``."""
    kept = functools.cache(func)
    on_reset(kept.cache_clear, cold=True)
    return cast(F, kept)


def ttl_cache[V](ttl_seconds: float, *, max_entries: int = 1024) -> TTLCache[V]:
    """A TTL cache for the life of the environment, emptied by every ``reset()``."""
    found: TTLCache[V] = TTLCache(ttl_seconds, max_entries=max_entries)
    on_reset(found.clear)
    return found


def reset(*, cold: bool = False) -> None:
    """Forget per-environment state: the caches, or with ``cold`` everything (a new
    environment)."""
    for forget, cold_only in _forgetters:
        if cold or not cold_only:
            forget()
