"""A circuit breaker per warm environment and per dependency (a Bedrock model, Stripe), so a
dependency that keeps failing is left alone for a while instead of costing every caller
seconds of retries.

closed → open after `failure_threshold` consecutive failed requests (a request that
succeeded after a retry is a success); open → half-open once `cooldown_seconds` have
passed, when exactly one request (the probe) goes through; its success closes the breaker,
its failure opens it for another cooldown. While open, callers get the seconds until the
probe may run: the Retry-After a visitor is told.

Lambda runs one request at a time per environment, so state is per environment by design
(no shared store, no extra call per message); the lock only keeps it correct if a caller
uses threads. The clock is injectable so tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from agenthub.environment import on_reset

State = Literal["closed", "open", "half_open"]

FAILURE_THRESHOLD = 3
COOLDOWN_SECONDS = 20.0


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = FAILURE_THRESHOLD,
        cooldown_seconds: float = COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_seconds <= 0:
            raise ValueError("failure_threshold >= 1 and cooldown_seconds > 0")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_started: float | None = None

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at < self.cooldown_seconds:
            return "open"
        return "half_open"

    def allow(self) -> float | None:
        """None when a request may go ahead; otherwise the seconds until it may (>0)."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return None
            now = self._clock()
            if state == "open":
                assert self._opened_at is not None
                return self._opened_at + self.cooldown_seconds - now
            # Half-open: one probe at a time; a probe that never reported (its caller died)
            # is given up after one cooldown.
            if self._probe_started is None or now - self._probe_started >= self.cooldown_seconds:
                self._probe_started = now
                return None
            return 1.0

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probe_started = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probe_started is not None or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
                self._probe_started = None

    def retry_after(self) -> float:
        """Seconds until a request may go ahead (0 when it may now)."""
        with self._lock:
            if self._state() != "open":
                return 0.0
            assert self._opened_at is not None
            return max(0.0, self._opened_at + self.cooldown_seconds - self._clock())


_breakers: dict[str, CircuitBreaker] = {}
_registry_lock = threading.Lock()


def breaker_for(
    name: str,
    *,
    failure_threshold: int = FAILURE_THRESHOLD,
    cooldown_seconds: float = COOLDOWN_SECONDS,
) -> CircuitBreaker:
    """This environment's breaker for `name`, created on first use with these settings."""
    with _registry_lock:
        breaker = _breakers.get(name)
        if breaker is None:
            breaker = _breakers[name] = CircuitBreaker(
                failure_threshold=failure_threshold, cooldown_seconds=cooldown_seconds
            )
        return breaker


def _forget_breakers() -> None:
    with _registry_lock:
        _breakers.clear()


on_reset(_forget_breakers)
