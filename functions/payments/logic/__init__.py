"""Payments' public logic functions: what other domains may call, in process.

Billing reports usage to the platform's own Stripe account through the same client, retries,
circuit breaker and deterministic idempotency keys as payments."""

from payments.logic.config import StripeConfig, platform_credentials
from payments.logic.stripe_api import StripeUnavailable, call, client, idempotency_key

__all__ = [
    "StripeConfig",
    "StripeUnavailable",
    "call",
    "client",
    "idempotency_key",
    "platform_credentials",
]
