"""pynamodb items of the payments domain (stay inside dal/)."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from agenthub.table import TableItem


class StripeConnectionItem(TableItem, discriminator="stripe_connection"):
    tenant_id = UnicodeAttribute()
    mode = UnicodeAttribute()
    account_id = UnicodeAttribute(null=True)
    livemode = BooleanAttribute()
    webhook_endpoint_id = UnicodeAttribute(null=True)
    connected_at = UnicodeAttribute()


class PaymentItem(TableItem, discriminator="payment"):
    payment_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    agent_id = UnicodeAttribute(null=True)
    conversation_id = UnicodeAttribute(null=True)
    booking_id = UnicodeAttribute(null=True)
    booking_outcome = UnicodeAttribute(null=True)
    hold_expires_at = UnicodeAttribute(null=True)
    link_id = UnicodeAttribute(null=True)
    checkout_session_id = UnicodeAttribute(null=True)
    checkout_url = UnicodeAttribute(null=True)
    payment_intent_id = UnicodeAttribute(null=True)
    refunded_minor = NumberAttribute(default=0)
    failure_reason = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class PaymentLinkItem(TableItem, discriminator="payment_link"):
    link_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute(null=True)
    stripe_link_id = UnicodeAttribute()
    url = UnicodeAttribute()
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    description = UnicodeAttribute()
    active = BooleanAttribute(default=True)
    created_at = UnicodeAttribute()


class RefundItem(TableItem, discriminator="refund"):
    """One Stripe refund of a payment; its id as the key makes recording it idempotent."""

    refund_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    amount_minor = NumberAttribute()
    reason = UnicodeAttribute()
    created_at = UnicodeAttribute()


class StripeEventItem(TableItem, discriminator="stripe_event"):
    """A Stripe event already applied (written with its effect; TTL after Stripe's 3 days of
    retries)."""

    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    processed_at = UnicodeAttribute()
