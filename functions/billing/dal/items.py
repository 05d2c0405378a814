"""pynamodb items of the billing domain (stay inside dal/)."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from agenthub.table import TableItem


class PlanItem(TableItem, discriminator="plan"):
    """A plan: platform data, seeded once and editable in the table."""

    plan_id = UnicodeAttribute()
    name = UnicodeAttribute()
    currency = UnicodeAttribute()
    monthly_fee_minor = NumberAttribute()
    included_messages = NumberAttribute()
    included_pages = NumberAttribute()
    overage_message_minor = NumberAttribute(null=True)


class BillingAccountItem(TableItem, discriminator="billing_account"):
    tenant_id = UnicodeAttribute()
    plan_id = UnicodeAttribute()
    enforcement = UnicodeAttribute()
    spend_cap_minor = NumberAttribute(default=0)
    billing_email = UnicodeAttribute(null=True)
    stripe_customer_id = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


class UsageCounterItem(TableItem, discriminator="usage_counter"):
    """One ledger cell: a tenant's (or an agent's) usage of a period or a day. Counters are
    top-level numbers because DynamoDB's ADD works on top-level attributes only. A tenant's
    day also records what was reported to Stripe (``reported``) and a report in flight."""

    tenant_id = UnicodeAttribute()
    agent_id = UnicodeAttribute(null=True)
    day = UnicodeAttribute(null=True)
    messages = NumberAttribute(null=True)
    answered = NumberAttribute(null=True)
    abstained = NumberAttribute(null=True)
    tokens_in = NumberAttribute(null=True)
    tokens_out = NumberAttribute(null=True)
    documents_indexed = NumberAttribute(null=True)
    pages_indexed = NumberAttribute(null=True)
    characters_indexed = NumberAttribute(null=True)
    embedding_tokens = NumberAttribute(null=True)
    bookings = NumberAttribute(null=True)
    payments = NumberAttribute(null=True)
    storage_bytes = NumberAttribute(null=True)  # net change of bytes stored (signed)
    reported = NumberAttribute(null=True)
    pending_identifier = UnicodeAttribute(null=True)
    pending_to = NumberAttribute(null=True)


class UsageVolumeItem(TableItem, discriminator="usage_volume"):
    """Payments volume of a period in one currency (succeeded less refunded), minor units."""

    tenant_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    amount_minor = NumberAttribute(null=True)


class ConsumedEventItem(TableItem, discriminator="billing_consumed_event"):
    """An event id the ledger has counted (redeliveries find it and change nothing)."""

    event_type = UnicodeAttribute()


class UsageAlertItem(TableItem, discriminator="usage_alert"):
    """A threshold warning sent once per tenant, period, metric and percent."""

    sent_at = UnicodeAttribute()
    used = NumberAttribute()


class ReconciliationItem(TableItem, discriminator="usage_reconciliation"):
    tenant_id = UnicodeAttribute()
    day = UnicodeAttribute()
    ledger = NumberAttribute()
    reported = NumberAttribute()
    stripe = NumberAttribute()
    corrected = NumberAttribute()
    status = UnicodeAttribute()
    checked_at = UnicodeAttribute()


class StorageGaugeItem(TableItem, discriminator="storage_gauge"):
    """Bytes of documents stored now: the tenant's, or one agent's."""

    agent_id = UnicodeAttribute(null=True)
    stored_bytes = NumberAttribute(null=True)


class DocumentBytesItem(TableItem, discriminator="storage_document"):
    """A document's bytes as last counted; ``deleted`` (a tombstone) once it is gone."""

    agent_id = UnicodeAttribute()
    stored_bytes = NumberAttribute()
    deleted = BooleanAttribute(default=False)
