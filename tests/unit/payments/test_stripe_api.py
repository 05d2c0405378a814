"""Retries, backoff with jitter, the breaker and the mapping of Stripe's errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from agenthub import environment
from agenthub.errors import Conflict
from payments.logic import stripe_api


@pytest.fixture(autouse=True)
def fresh_breaker() -> Iterator[None]:
    environment.reset()
    yield
    environment.reset()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _failing(errors: list[Exception], result: str = "ok"):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def operation() -> str:
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return result

    return operation, calls


def test_a_connection_error_then_success_is_retried_with_bounded_jittered_backoff() -> None:
    clock = Clock()
    operation, calls = _failing([stripe.APIConnectionError("down"), stripe.RateLimitError("slow")])
    assert stripe_api.call(operation, sleep=clock.sleep, clock=lambda: clock.now) == "ok"
    assert calls["n"] == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= stripe_api.BASE_DELAY
    assert 0 <= clock.sleeps[1] <= 2 * stripe_api.BASE_DELAY


def test_retries_end_in_stripe_unavailable_with_retry_after() -> None:
    clock = Clock()
    errors: list[Exception] = [stripe.APIError("5xx", http_status=500) for _ in range(5)]
    operation, calls = _failing(errors)
    with pytest.raises(stripe_api.StripeUnavailable) as raised:
        stripe_api.call(operation, sleep=clock.sleep, clock=lambda: clock.now)
    assert calls["n"] == stripe_api.MAX_ATTEMPTS
    assert raised.value.status == 503 and int(raised.value.headers["Retry-After"]) >= 1


def test_a_refused_request_is_not_retried_and_keeps_the_breaker_closed() -> None:
    operation, calls = _failing(
        [stripe.InvalidRequestError("Amount too large", "amount", code="amount_too_large")]
    )
    with pytest.raises(stripe_api.StripeRejected) as raised:
        stripe_api.call(operation, sleep=lambda s: None)
    assert calls["n"] == 1
    assert raised.value.details == {"stripe_code": "amount_too_large", "param": "amount"}
    assert stripe_api.breaker().state == "closed"


def test_a_refused_key_means_payments_are_not_configured() -> None:
    operation, _ = _failing([stripe.AuthenticationError("Invalid API Key")])
    with pytest.raises(stripe_api.PaymentsNotConfigured):
        stripe_api.call(operation, sleep=lambda s: None)


def test_an_idempotency_conflict_is_a_409() -> None:
    operation, _ = _failing([stripe.IdempotencyError("Keys ... same parameters", http_status=400)])
    with pytest.raises(Conflict):
        stripe_api.call(operation, sleep=lambda s: None)


def test_the_breaker_opens_after_repeated_failures_and_fails_fast() -> None:
    for _ in range(stripe_api.FAILURE_THRESHOLD):
        errors: list[Exception] = [stripe.APIConnectionError("down") for _ in range(3)]
        operation, _ = _failing(errors)
        with pytest.raises(stripe_api.StripeUnavailable):
            stripe_api.call(operation, sleep=lambda s: None)
    operation, calls = _failing([])
    with pytest.raises(stripe_api.StripeUnavailable) as raised:
        stripe_api.call(operation, sleep=lambda s: None)
    assert calls["n"] == 0
    assert int(raised.value.headers["Retry-After"]) > 1


def test_idempotency_keys_are_deterministic_and_name_their_purpose() -> None:
    key = stripe_api.idempotency_key("checkout", "t1", "pay_1")
    assert (
        key == stripe_api.idempotency_key("checkout", "t1", "pay_1") == "agenthub:checkout:t1:pay_1"
    )
    assert len(stripe_api.idempotency_key("x", "y" * 400)) == 255
