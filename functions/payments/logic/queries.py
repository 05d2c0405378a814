"""Reads of payments and payment links (the API's GET routes)."""

from __future__ import annotations

from typing import Any

from agenthub.errors import NotFound
from payments.dal import repository
from payments.models import Payment, PaymentLink


def get_payment(tenant_id: str, payment_id: str) -> Payment:
    return repository.get_payment(tenant_id, payment_id)


def get_visitor_payment(tenant_id: str, agent_id: str, payment_id: str) -> Payment:
    """A payment as the widget of ``agent_id`` may see it: another agent's is a 404."""
    payment = repository.get_payment(tenant_id, payment_id)
    if payment.agent_id != agent_id:
        raise NotFound("payment not found")
    return payment


def list_payments(
    tenant_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Payment], dict[str, Any] | None]:
    return repository.list_payments(tenant_id, limit, start_key)


def list_links(
    tenant_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[PaymentLink], dict[str, Any] | None]:
    return repository.list_links(tenant_id, limit, start_key)
