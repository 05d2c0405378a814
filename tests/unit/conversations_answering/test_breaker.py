"""The circuit breaker's states on an injected clock: closed → open → half-open → closed."""

from __future__ import annotations

import pytest

from conversations.logic.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_opens_after_consecutive_failures_only(clock):
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success in between resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow() is None
    breaker.record_failure()
    assert breaker.state == "open"


def test_open_tells_how_long_until_the_probe(clock):
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30, clock=clock)
    breaker.record_failure()
    clock.now = 12.0
    assert breaker.allow() == pytest.approx(18.0)
    assert breaker.retry_after() == pytest.approx(18.0)


def test_half_open_lets_exactly_one_probe_through(clock):
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30, clock=clock)
    breaker.record_failure()
    clock.now = 30.0
    assert breaker.state == "half_open"
    assert breaker.allow() is None  # the probe
    assert breaker.allow() == 1.0  # others wait for its verdict
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow() is None


def test_a_failed_probe_reopens_for_a_full_cooldown(clock):
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30, clock=clock)
    breaker.record_failure()
    clock.now = 31.0
    assert breaker.allow() is None
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.allow() == pytest.approx(30.0)


def test_a_probe_that_never_reports_is_given_up_after_a_cooldown(clock):
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30, clock=clock)
    breaker.record_failure()
    clock.now = 30.0
    assert breaker.allow() is None
    clock.now = 60.0
    assert breaker.allow() is None  # a new probe


def test_rejects_nonsense_settings():
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(cooldown_seconds=0)
