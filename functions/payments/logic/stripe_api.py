"""Every call to Stripe goes through here: the real ``stripe`` SDK with our resilience.

- Credentials: the tenant's restricted key, or the platform key acting on the tenant's
  connected account (``Stripe-Account``). One SDK client per credential and environment.
- Idempotency: every POST carries a deterministic key built from what it is for
  (``idempotency_key("checkout", tenant, payment)``): a retry (ours, the visitor's, a
  redelivered message) gets Stripe's stored answer instead of a second object.
- Retries: the SDK's own are off (they would add random keys and multiply attempts); ours
  retry connection errors, timeouts, 429s, 409 lock conflicts and 5xx with exponential
  backoff and full jitter, at most ``MAX_ATTEMPTS`` within ``BUDGET_SECONDS``.
- A circuit breaker per environment: after ``FAILURE_THRESHOLD`` calls in a row failed
  despite retries, calls fail at once for ``COOLDOWN_SECONDS`` with StripeUnavailable (503 +
  Retry-After) instead of holding every request for seconds.
- Stripe's refusals become our errors: a refused key → PaymentsNotConfigured (409), an
  invalid request → StripeRejected (422) with Stripe's message and param, an idempotency
  conflict → Conflict (409).

``stripe`` is imported on first use only: read routes of the API function never pay for it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agenthub.breaker import CircuitBreaker, breaker_for
from agenthub.environment import on_reset
from agenthub.errors import AppError, Conflict, DependencyUnavailable

MAX_ATTEMPTS = 3
BASE_DELAY = 0.2
MAX_DELAY = 1.5
BUDGET_SECONDS = 6.0  # API functions time out at 10 s
REQUEST_TIMEOUT = 4.0  # Stripe answers in well under a second when healthy
FAILURE_THRESHOLD = 5
COOLDOWN_SECONDS = 30.0
BREAKER = "stripe"


class StripeUnavailable(DependencyUnavailable):
    code = "payment_provider_unavailable"


class PaymentsNotConfigured(AppError):
    status, code = 409, "payments_not_configured"


class StripeRejected(AppError):
    """Stripe refused the request itself (a bad amount, a refund larger than what is left)."""

    status, code = 422, "stripe_rejected"


@dataclass(frozen=True)
class Credentials:
    api_key: str
    account: str | None = None  # a connected account, with the platform's key
    api_base: str = "https://api.stripe.com"


def idempotency_key(purpose: str, *parts: str) -> str:
    """A deterministic Idempotency-Key (Stripe keeps them at least 24 h; ≤ 255 chars)."""
    return ":".join(("agenthub", purpose, *parts))[:255]


_clients: dict[Credentials, Any] = {}


def client(credentials: Credentials) -> Any:
    """The environment's SDK client for these credentials (created once)."""
    found = _clients.get(credentials)
    if found is None:
        import stripe

        if len(_clients) > 256:  # tenants come and go; keep the environment's memory bounded
            _clients.clear()
        found = _clients[credentials] = stripe.StripeClient(
            credentials.api_key,
            stripe_account=credentials.account,
            base_addresses={"api": credentials.api_base},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=REQUEST_TIMEOUT),
        )
    return found


def breaker() -> CircuitBreaker:
    return breaker_for(
        BREAKER, failure_threshold=FAILURE_THRESHOLD, cooldown_seconds=COOLDOWN_SECONDS
    )


def call[T](
    operation: Callable[[], T],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``operation`` (one SDK call) with retries, backoff, jitter and the breaker."""
    import stripe

    guard = breaker()
    wait = guard.allow()
    if wait is not None:
        raise StripeUnavailable(
            "the payment provider is unavailable; retry shortly", retry_after=math.ceil(wait)
        )
    deadline = clock() + BUDGET_SECONDS
    attempt = 0
    while True:  # ends by returning, or raising at MAX_ATTEMPTS or past the deadline
        attempt += 1
        try:
            result = operation()
        except stripe.StripeError as exc:
            if not _retryable(exc):
                guard.record_success()  # Stripe answered: it is up, the request was wrong
                raise _refusal(exc) from exc
            delay = random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1)))
            if attempt == MAX_ATTEMPTS or clock() + delay + REQUEST_TIMEOUT > deadline:
                guard.record_failure()
                raise StripeUnavailable(
                    "the payment provider is unavailable; retry shortly",
                    retry_after=max(2, math.ceil(guard.retry_after())),
                ) from exc
            sleep(delay)
        else:
            guard.record_success()
            return result


def _retryable(exc: Exception) -> bool:
    import stripe

    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return True
    status = getattr(exc, "http_status", None) or 0
    if isinstance(exc, stripe.IdempotencyError):
        return status == 409  # the same key still in flight: wait for its answer
    if status == 409:  # lock_timeout: another request on the same object
        return True
    return isinstance(exc, stripe.APIError) or status >= 500


def _refusal(exc: Exception) -> AppError:
    import stripe

    message = getattr(exc, "user_message", None) or str(exc) or "Stripe refused the request"
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        return PaymentsNotConfigured(
            "Stripe refused the tenant's credentials: reconnect Stripe with a valid key",
            details={"stripe_error": type(exc).__name__},
        )
    if isinstance(exc, stripe.IdempotencyError):
        return Conflict("this request conflicts with an earlier one for the same payment")
    details = {"stripe_code": getattr(exc, "code", None), "param": getattr(exc, "param", None)}
    return StripeRejected(message, details={k: v for k, v in details.items() if v})


on_reset(_clients.clear, cold=True)
