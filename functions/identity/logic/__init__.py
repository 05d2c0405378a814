"""Identity's public logic functions (what other domains may call)."""

from identity.logic.authentication import verify_publishable

__all__ = ["verify_publishable"]
