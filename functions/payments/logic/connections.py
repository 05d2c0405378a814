"""A tenant's Stripe connection: connect, show (never the key), disconnect.

Connecting with a restricted key creates the webhook endpoint in the tenant's account (which
also proves the key works and may write what we need), then stores key and endpoint secret
in Secrets Manager, then the connection item with its event. A retried connect reuses the
endpoint (same idempotency key), so a failure half way leaves nothing a retry cannot finish.
With a Connect account id, the platform's key must already reach that account.
"""

from __future__ import annotations

import hashlib

from agenthub.errors import NotFound, ValidationFailed
from agenthub.events import Actor, utc_now_iso
from agenthub.observability import logger
from payments.dal import repository
from payments.logic import stripe_api
from payments.logic.config import StripeConfig, credentials, platform_credentials
from payments.logic.stripe_api import Credentials, PaymentsNotConfigured, idempotency_key
from payments.models import (
    Connection,
    ConnectionCreate,
    ConnectionData,
    StripeConnected,
    StripeDisconnected,
)

# What our webhook endpoints listen to (the consumer handles exactly these).
WEBHOOK_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "refund.created",
    "refund.updated",
)


def get_connection(tenant_id: str) -> Connection:
    found = repository.get_connection(tenant_id)
    if found is None:
        raise NotFound("Stripe is not connected")
    return found


def require_connection(tenant_id: str) -> Connection:
    found = repository.get_connection(tenant_id)
    if found is None:
        raise PaymentsNotConfigured("connect Stripe first: PUT /v1/payments/stripe")
    return found


def connect(
    config: StripeConfig,
    tenant_id: str,
    data: ConnectionCreate,
    *,
    webhook_url: str,
    actor: Actor,
) -> Connection:
    existing = repository.get_connection(tenant_id)
    now = utc_now_iso()
    if data.restricted_key is not None:
        connection = _connect_key(config, tenant_id, data.restricted_key, webhook_url, now)
    else:
        assert data.account_id is not None
        connection = _connect_account(config, tenant_id, data.account_id, now)
    if existing is not None:
        connection = connection.model_copy(update={"version": existing.version + 1})
    event = StripeConnected(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"stripe/{tenant_id}",
        data=ConnectionData(mode=connection.mode, livemode=connection.livemode),
    )
    repository.save_connection(connection, [event], replaces=existing.version if existing else None)
    return connection


def _connect_key(
    config: StripeConfig, tenant_id: str, key: str, webhook_url: str, now: str
) -> Connection:
    creds = Credentials(key, None, config.api_base)
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    params = {
        "url": webhook_url,
        "enabled_events": list(WEBHOOK_EVENTS),
        "description": "AgentHub payments",
        "metadata": {"tenant_id": tenant_id},
    }
    options = {"idempotency_key": idempotency_key("webhook-endpoint", tenant_id, fingerprint)}
    endpoint = stripe_api.call(
        lambda: stripe_api.client(creds).v1.webhook_endpoints.create(params, options)
    )
    secret = {
        "api_key": key,
        "webhook_secret": endpoint.secret,
        "webhook_endpoint_id": endpoint.id,
    }
    repository.put_tenant_secret(config.tenant_secret_name(tenant_id), tenant_id, secret)
    return Connection(
        tenant_id=tenant_id,
        mode="restricted_key",
        livemode=key.startswith("rk_live_"),
        webhook_endpoint_id=endpoint.id,
        connected_at=now,
    )


def _connect_account(config: StripeConfig, tenant_id: str, account_id: str, now: str) -> Connection:
    creds = platform_credentials(config)
    try:
        account = stripe_api.call(lambda: stripe_api.client(creds).v1.accounts.retrieve(account_id))
    except PaymentsNotConfigured:
        raise ValidationFailed(
            "this Stripe account is not connected to the platform",
            details={"account_id": account_id},
        ) from None
    return Connection(
        tenant_id=tenant_id,
        mode="connect",
        account_id=account_id,
        livemode=bool(account.livemode),
        connected_at=now,
    )


def disconnect(config: StripeConfig, tenant_id: str, actor: Actor) -> None:
    """Remove the connection, then (best effort) our webhook endpoint and the secret."""
    connection = get_connection(tenant_id)
    event = StripeDisconnected(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"stripe/{tenant_id}",
        data=ConnectionData(mode=connection.mode, livemode=connection.livemode),
    )
    creds = credentials(config, connection) if connection.webhook_endpoint_id else None
    repository.delete_connection(tenant_id, [event])
    if creds is not None and connection.webhook_endpoint_id:
        endpoint_id = connection.webhook_endpoint_id
        try:
            stripe_api.call(
                lambda: stripe_api.client(creds).v1.webhook_endpoints.delete(endpoint_id)
            )
        except Exception:  # the tenant may have revoked the key already; nothing to undo
            logger().warning("webhook endpoint not deleted", extra={"tenant_id": tenant_id})
    if connection.mode == "restricted_key":
        repository.delete_tenant_secret(config.tenant_secret_name(tenant_id))
