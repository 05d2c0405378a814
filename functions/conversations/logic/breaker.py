"""The model's circuit breaker is the kernel's (payments uses the same one for Stripe)."""

from agenthub.breaker import CircuitBreaker, breaker_for

__all__ = ["CircuitBreaker", "breaker_for"]
