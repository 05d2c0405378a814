"""Payments an agent sends in a conversation: a one-off Checkout Session (an amount or a
price, paid once, open 24 h) or a reusable Stripe Payment Link.

Stripe first, then our item: if Stripe is down the request is a 503 and nothing is written;
if our write fails after Stripe answered, the client's retry (same ``Idempotency-Key``
header) reaches the same Stripe object through the same idempotency key, and a payment
Stripe completes before we stored it is rebuilt by the webhook from the session's metadata.
"""

from __future__ import annotations

import secrets
from typing import Any

from agenthub.errors import NotFound, ValidationFailed
from agenthub.events import utc_now_iso
from agents.logic import get_agent
from payments.dal import repository
from payments.logic import stripe_api
from payments.logic.config import StripeConfig, credentials, derived_id
from payments.logic.connections import require_connection
from payments.logic.stripe_api import idempotency_key
from payments.models import Payment, PaymentLink, PaymentRequestCreate


def _new_id(prefix: str, tenant_id: str, request_key: str | None) -> str:
    if request_key:
        return derived_id(prefix, tenant_id, request_key)
    return prefix + secrets.token_hex(12)


def metadata(tenant_id: str, kind: str, **ids: str | None) -> dict[str, str]:
    """What every Stripe object of ours carries: who it belongs to and what it is for."""
    return {"tenant_id": tenant_id, "kind": kind, **{k: v for k, v in ids.items() if v}}


def create_payment_request(
    config: StripeConfig,
    tenant_id: str,
    data: PaymentRequestCreate,
    *,
    request_key: str | None = None,
) -> tuple[str, Payment | PaymentLink]:
    """Returns ("payment", the open one-off payment) or ("payment_link", the link)."""
    agent = get_agent(tenant_id, data.agent_id)  # NotFound for another tenant's agent
    connection = require_connection(tenant_id)
    creds = credentials(config, connection)
    sdk = stripe_api.client(creds)
    if data.reusable:
        return "payment_link", _create_link(sdk, tenant_id, data, request_key)
    payment_id = _new_id("pay_", tenant_id, request_key)
    existing = repository.find_payment(tenant_id, payment_id)
    if existing is not None:
        return "payment", existing
    success_url = data.success_url or next(iter(agent.allowed_origins), None)
    if not success_url:
        raise ValidationFailed("give success_url: the agent has no website origin to return to")
    meta = metadata(
        tenant_id,
        "one_off",
        payment_id=payment_id,
        agent_id=data.agent_id,
        conversation_id=data.conversation_id,
    )
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [_line_item(data)],
        "metadata": meta,
        "payment_intent_data": {"metadata": meta},
        "client_reference_id": payment_id,
        "success_url": success_url,
        "cancel_url": success_url,
    }
    options = {"idempotency_key": idempotency_key("checkout", tenant_id, payment_id)}
    session = stripe_api.call(lambda: sdk.v1.checkout.sessions.create(params, options))
    now = utc_now_iso()
    payment = Payment(
        id=payment_id,
        tenant_id=tenant_id,
        kind="one_off",
        status="open",
        amount_minor=int(session.amount_total),
        currency=str(session.currency),
        description=data.description or "",
        agent_id=data.agent_id,
        conversation_id=data.conversation_id,
        checkout_session_id=session.id,
        checkout_url=session.url,
        created_at=now,
        updated_at=now,
    )
    repository.apply(payment, expected_version=None)  # STALE: a retry stored it first
    return "payment", repository.get_payment(tenant_id, payment_id, consistent=True)


def _line_item(data: PaymentRequestCreate) -> dict[str, Any]:
    if data.price_id:
        return {"price": data.price_id, "quantity": data.quantity}
    assert data.amount is not None
    return {
        "quantity": data.quantity,
        "price_data": {
            "currency": data.amount.currency,
            "unit_amount": data.amount.amount_minor,
            "product_data": {"name": data.description},
        },
    }


def _create_link(
    sdk: Any, tenant_id: str, data: PaymentRequestCreate, request_key: str | None
) -> PaymentLink:
    link_id = _new_id("pl_", tenant_id, request_key)
    try:
        return repository.get_link(tenant_id, link_id)
    except NotFound:
        pass
    if data.price_id:
        price_id = data.price_id
        price = stripe_api.call(lambda: sdk.v1.prices.retrieve(price_id))
        amount, currency = int(price.unit_amount), str(price.currency)
        description = data.description or str(price.product)
    else:
        assert data.amount is not None and data.description is not None
        amount, currency, description = (
            data.amount.amount_minor,
            data.amount.currency,
            data.description,
        )
        price_params = {
            "currency": currency,
            "unit_amount": amount,
            "product_data": {"name": description},
        }
        price_options = {"idempotency_key": idempotency_key("price", tenant_id, link_id)}
        price = stripe_api.call(lambda: sdk.v1.prices.create(price_params, price_options))
        price_id = price.id
    meta = metadata(
        tenant_id,
        "link",
        link_id=link_id,
        agent_id=data.agent_id,
        conversation_id=data.conversation_id,
    )
    params = {
        "line_items": [{"price": price_id, "quantity": data.quantity}],
        "metadata": meta,  # Stripe copies a link's metadata to each session it creates
        "payment_intent_data": {"metadata": meta},
    }
    options = {"idempotency_key": idempotency_key("payment-link", tenant_id, link_id)}
    link = stripe_api.call(lambda: sdk.v1.payment_links.create(params, options))
    stored = PaymentLink(
        id=link_id,
        tenant_id=tenant_id,
        agent_id=data.agent_id,
        conversation_id=data.conversation_id,
        stripe_link_id=link.id,
        url=link.url,
        amount_minor=amount * data.quantity,
        currency=currency,
        description=description,
        created_at=utc_now_iso(),
    )
    repository.create_link(stored)
    return repository.get_link(tenant_id, link_id)
