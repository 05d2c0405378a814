"""The optional shared L2 cache (the seed's Memcached level): ElastiCache Serverless for
memcached in AWS, a real memcached in tests, absent by default.

``TieredCache`` puts it behind the L1 interface (``agenthub.cache.TTLCache``): ``get`` asks
L1, then memcached (which then warms L1); ``set`` and ``invalidate`` reach both. Without
``SHARED_CACHE_ENDPOINT`` (the default; template parameter ``SharedCache=disabled``) it is
exactly L1, and pymemcache is never imported.

A cache is never a dependency: a memcached that is down, slow (50 ms timeouts) or refuses a
value is a miss, logged once per environment, never an error for the visitor.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Hashable
from functools import cache
from typing import Any

from agenthub.cache import TTLCache
from agenthub.environment import on_reset

ENDPOINT_VARIABLE = "SHARED_CACHE_ENDPOINT"  # host:port, empty = no shared cache
TLS_VARIABLE = "SHARED_CACHE_TLS"  # "true" in AWS: ElastiCache Serverless only speaks TLS
TIMEOUT_SECONDS = 0.05
MAX_VALUE_BYTES = 1024 * 1024  # memcached's default item size limit


class Memcached:
    """A few memcached commands with failures turned into misses (pymemcache, pure Python)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool = False,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        import ssl

        from pymemcache.client.base import Client

        self.address = (host, port)
        self.failures = 0
        self._client = Client(
            self.address,
            connect_timeout=timeout,
            timeout=timeout,
            no_delay=True,
            tls_context=ssl.create_default_context() if tls else None,
        )

    def get(self, key: str) -> bytes | None:
        try:
            value = self._client.get(key)
        except Exception as exc:
            self._failed("get", exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if len(value) > MAX_VALUE_BYTES:
            return
        try:
            self._client.set(key, value, expire=int(ttl_seconds), noreply=False)
        except Exception as exc:
            self._failed("set", exc)

    def delete(self, key: str) -> None:
        try:
            self._client.delete(key, noreply=False)
        except Exception as exc:
            self._failed("delete", exc)

    def close(self) -> None:
        self._client.close()

    def _failed(self, command: str, exc: Exception) -> None:
        self.failures += 1
        self._client.close()  # the next command reconnects
        if self.failures == 1:
            from agenthub.observability import logger

            logger().warning(
                "shared cache unavailable; serving without it",
                extra={"command": command, "error": type(exc).__name__},
            )


@cache
def shared_cache() -> Memcached | None:
    """This environment's memcached client, or None when no endpoint is configured."""
    endpoint = os.environ.get(ENDPOINT_VARIABLE, "").strip()
    if not endpoint:
        return None
    host, _, port = endpoint.rpartition(":")
    tls = os.environ.get(TLS_VARIABLE, "false").lower() == "true"
    return Memcached(host or endpoint, int(port or 11211), tls=tls)


def reset_shared_cache() -> None:
    """Read the environment again and drop the connection (a new environment starts without)."""
    client = shared_cache() if shared_cache.cache_info().currsize else None
    if client is not None:
        client.close()
    shared_cache.cache_clear()


on_reset(reset_shared_cache, cold=True)


def cache_key(namespace: str, key: Hashable) -> str:
    """A memcached key (≤ 250 bytes, no spaces) for a tuple key: a hash, so ids never leak
    into the key space of another namespace."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:40]
    return f"agenthub:{namespace}:{digest}"


class TieredCache[V]:
    """L1 (per environment) in front of the shared L2 when there is one."""

    def __init__(
        self,
        local: TTLCache[V],
        namespace: str,
        *,
        encode: Callable[[V], bytes],
        decode: Callable[[bytes], V],
        ttl_seconds: int,
        shared: Callable[[], Memcached | None] = shared_cache,
    ) -> None:
        self.local = local
        self.namespace = namespace
        self.ttl_seconds = ttl_seconds
        self._encode, self._decode, self._shared = encode, decode, shared
        self.shared_hits = 0
        self.shared_misses = 0

    @property
    def shared_enabled(self) -> bool:
        return self._shared() is not None

    def get(self, key: Hashable) -> V | None:
        value = self.local.get(key)
        if value is not None:
            return value
        shared = self._shared()
        if shared is None:
            return None
        raw = shared.get(cache_key(self.namespace, key))
        if raw is None:
            self.shared_misses += 1
            return None
        try:
            value = self._decode(raw)
        except Exception:  # an entry written by another version of the code
            self.shared_misses += 1
            return None
        self.shared_hits += 1
        self.local.set(key, value)
        return value

    def set(self, key: Hashable, value: V) -> None:
        self.local.set(key, value)
        shared = self._shared()
        if shared is not None:
            shared.set(cache_key(self.namespace, key), self._encode(value), self.ttl_seconds)

    def invalidate(self, key: Hashable) -> None:
        self.local.invalidate(key)
        shared = self._shared()
        if shared is not None:
            shared.delete(cache_key(self.namespace, key))


def pydantic_codec(model: type[Any]) -> dict[str, Callable[..., Any]]:
    """``encode``/``decode`` keyword arguments for a pydantic model's JSON."""
    return {
        "encode": lambda value: value.model_dump_json().encode(),
        "decode": model.model_validate_json,
    }
