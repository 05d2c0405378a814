"""Billing's public logic functions: what other domains may call, in process.

- ``message_allowance(tenant_id)``: how many messages the tenant may send in the current
  billing period (``period``, ``limit``, ``included``, ``enforcement``, ``resets_at``); the
  conversations domain enforces it in the message transaction. Cached 30 s per environment.
"""

from billing.logic.accounts import message_allowance

__all__ = ["message_allowance"]
