"""Every key format of the single table, in one place.

Every partition key starts with the tenant (``TENANT#<id>``): tenant isolation, and DynamoDB
spreads customers across partitions. The README's access-pattern table mirrors this module.
"""

from __future__ import annotations

TENANT_PREFIX = "TENANT#"


def tenant_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}"


# identity
TENANT_SK = "TENANT"


def api_key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


API_KEY_SK_PREFIX = "KEY#"


# agents
def agent_sk(agent_id: str) -> str:
    return f"AGENT#{agent_id}"


AGENT_SK_PREFIX = "AGENT#"


# audit log: its own partition per tenant so listing newest first is one query; the day
# index (gsi1) lets the archive job find old entries of every tenant without a scan.
def audit_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#AUDIT"


def audit_sk(occurred_at: str, event_id: str) -> str:
    return f"{occurred_at}#{event_id}"


def audit_day_gsi1pk(day: str) -> str:
    return f"AUDITDAY#{day}"


def audit_day_gsi1sk(tenant_id: str, occurred_at: str, event_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#{occurred_at}#{event_id}"


# platform-level bookkeeping (not tenant data): markers of finished scheduled jobs
def job_marker_pk(job: str) -> str:
    return f"JOB#{job}"


def belongs_to_tenant(pk: str, tenant_id: str) -> bool:
    """True when a partition key lies inside the tenant's key space (used to check cursors)."""
    own = tenant_pk(tenant_id)
    return pk == own or pk.startswith(own + "#")


# knowledge: an agent's documents and its index pointer share one partition, so listing the
# documents and reading the live index version are single-partition operations.
def knowledge_pk(tenant_id: str, agent_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#KB#{agent_id}"


def document_sk(document_id: str) -> str:
    return f"DOC#{document_id}"


DOCUMENT_SK_PREFIX = "DOC#"
INDEX_POINTER_SK = "INDEX"


def import_sk(import_id: str) -> str:
    return f"IMPORT#{import_id}"


# transactional outbox: events waiting for the stream relay, per tenant (TTL removes them)
def outbox_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#OUTBOX"


# conversations: each conversation is its own partition (its header, its rolling state and its
# messages), so message traffic spreads across as many partitions as there are conversations.
# The header alone carries gsi1 keys: a tenant's conversations newest first, written when a
# conversation starts or a flag changes (lead, handoff, unanswered), never once per message.
CONVERSATION_SK = "CONV"
CONVERSATION_STATE_SK = "STATE"
MESSAGE_SK_PREFIX = "MSG#"


def conversation_pk(tenant_id: str, conversation_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#CONV#{conversation_id}"


def message_sk(message_id: str) -> str:
    return f"{MESSAGE_SK_PREFIX}{message_id}"


def conversations_gsi1pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#CONVS"


def conversations_gsi1sk(started_at: str, conversation_id: str) -> str:
    return f"{started_at}#{conversation_id}"


# live handoff: while a handoff is open (a visitor asked for a person; no one has closed it),
# the conversation's partition holds a HANDOFF item whose gsi1 keys list the tenant's open
# handoffs oldest first; it is deleted when the handoff closes (a sparse index). The visitor's
# open WebSocket connections are CONN# items of the conversation (TTL: the WebSocket API's
# two-hour limit).
HANDOFF_SK = "HANDOFF"
CONNECTION_SK_PREFIX = "CONN#"


def handoffs_gsi1pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#HANDOFFS"


def handoffs_gsi1sk(requested_at: str, conversation_id: str) -> str:
    return f"{requested_at}#{conversation_id}"


def connection_sk(connection_id: str) -> str:
    return f"{CONNECTION_SK_PREFIX}{connection_id}"


# the shared answer cache: one partition per cached answer (reads of popular questions spread),
# the digest covers the index version, the agent version and the normalized question
ANSWER_SK = "ANSWER"


def answer_pk(tenant_id: str, agent_id: str, digest: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#ANSWER#{agent_id}#{digest}"


# rate limits: fixed windows, one item per (subject, window), removed by TTL
def visitor_rate_pk(tenant_id: str, agent_id: str, visitor_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#RATE#VISITOR#{agent_id}#{visitor_id}"


def agent_rate_pk(tenant_id: str, agent_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#RATE#AGENT#{agent_id}"


def rate_pk(tenant_id: str, agent_id: str, counted: str, subject_id: str) -> str:
    """Any other counter of an agent: ``counted`` names what ("client-messages", ...)."""
    return f"{TENANT_PREFIX}{tenant_id}#RATE#{counted.upper()}#{agent_id}#{subject_id}"


def rate_window_sk(window_start: int) -> str:
    return f"WINDOW#{window_start}"


# an agent's visitor-identity secret (HMAC key the tenant's server signs visitor ids with)
def identity_secret_sk(agent_id: str) -> str:
    return f"IDSECRET#{agent_id}"


# payments: the tenant's Stripe connection sits beside the tenant; payments, payment links,
# refunds and processed Stripe event ids share one partition per tenant (listing payments is
# one Query; a webhook's reads are one BatchGetItem). Held-booking checkouts waiting for their
# hold to end are found by the expiry job through a sparse gsi1 partition of every tenant.
STRIPE_CONNECTION_SK = "STRIPE"


def payments_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#PAY"


def payment_sk(payment_id: str) -> str:
    return f"PAY#{payment_id}"


PAYMENT_SK_PREFIX = "PAY#"


def payment_link_sk(link_id: str) -> str:
    return f"LINK#{link_id}"


PAYMENT_LINK_SK_PREFIX = "LINK#"


def refund_sk(refund_id: str) -> str:
    return f"REFUND#{refund_id}"


def stripe_event_sk(event_id: str) -> str:
    return f"EVENT#{event_id}"


OPEN_HOLD_CHECKOUTS_GSI1PK = "HOLDCHECKOUTS"


def open_hold_checkout_gsi1sk(hold_expires_at: str, tenant_id: str, payment_id: str) -> str:
    return f"{hold_expires_at}#{TENANT_PREFIX}{tenant_id}#{payment_id}"


# scheduling: a tenant's resources, event types and imported busy times share one partition
# (small, read together); each booking is its own partition, listed per resource by start
# (gsi1). Slot locks are one item per resource and 5-minute UTC bucket, limit counters one
# per event type and local day/week, idempotency keys one per key: conditional writes on
# these items, in one transaction with the booking, are the no-double-booking guarantee.
SCHEDULING_SK_RESOURCE = "RESOURCE#"
SCHEDULING_SK_EVENT_TYPE = "EVENTTYPE#"
BOOKING_SK = "BOOKING"
HOLD_SK = "HOLD"
LOCK_SK = "LOCK"
IDEMPOTENCY_SK = "IDEMPOTENCY"
CALENDAR_SYNC_GSI1PK = "CALSYNC"  # resources with a busy-time import URL, every tenant
HOLD_SHARDS = 8


def scheduling_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#SCHED"


def resource_sk(resource_id: str) -> str:
    return f"{SCHEDULING_SK_RESOURCE}{resource_id}"


def event_type_sk(event_type_id: str) -> str:
    return f"{SCHEDULING_SK_EVENT_TYPE}{event_type_id}"


def busy_sk(resource_id: str) -> str:
    return f"BUSY#{resource_id}"


def booking_pk(tenant_id: str, booking_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#BOOKING#{booking_id}"


def resource_bookings_gsi1pk(tenant_id: str, resource_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#RESBOOKINGS#{resource_id}"


def slot_lock_pk(tenant_id: str, resource_id: str, bucket_epoch: int) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#SLOTLOCK#{resource_id}#{bucket_epoch}"


def booking_limit_pk(tenant_id: str, event_type_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#BOOKLIMIT#{event_type_id}"


def booking_notice_sk(notice_id: str) -> str:
    """A notice (email) sent for a booking, beside the booking item: its event id, or the
    reminder's start."""
    return f"NOTICE#{notice_id}"


def idempotency_pk(tenant_id: str, scope: str, key_digest: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#IDEMP#{scope}#{key_digest}"


def holds_gsi1pk(shard: int) -> str:
    """Live holds of every tenant by expiry (the sweeper's query), spread over shards."""
    return f"HOLDS#{shard}"


def calendar_sync_gsi1sk(tenant_id: str, resource_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#{resource_id}"


# billing: the tenant's billing account and its alert markers share one partition; the usage
# ledger has one partition per tenant and billing period (period totals, days, agents: one
# Query reads a period). Tenant days carry gsi1 keys so the Stripe reporting job finds every
# tenant's usage of a day without a scan. Processed event ids are one partition each (writes
# spread). Plans are platform data, editable in the table.
BILLING_ACCOUNT_SK = "ACCOUNT"
USAGE_TOTAL_SK = "TOTAL"
PLANS_PK = "PLANS"


def billing_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#BILLING"


def plan_sk(plan_id: str) -> str:
    return f"PLAN#{plan_id}"


# model prices (platform data, seeded, editable like plans): what analytics' costs are
# computed with
MODEL_PRICES_PK = "MODELPRICES"


def model_price_sk(model: str) -> str:
    return f"MODEL#{model}"


# bytes of documents stored now: the tenant's and each agent's gauge, and each document's
# last counted bytes (a deleted document keeps a tombstone, so a late DocumentIndexed of it
# counts nothing), in the tenant's billing partition
STORAGE_SK = "STORAGE"


def storage_agent_sk(agent_id: str) -> str:
    return f"STORAGE#AGENT#{agent_id}"


def storage_document_sk(document_id: str) -> str:
    return f"STORAGE#DOC#{document_id}"


def usage_alert_sk(period: str, metric: str, percent: int) -> str:
    return f"ALERT#{period}#{metric}#{percent}"


def reconciliation_sk(day: str) -> str:
    return f"RECON#{day}"


def usage_pk(tenant_id: str, period: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#USAGE#{period}"


def usage_day_sk(day: str) -> str:
    return f"DAY#{day}"


def usage_agent_sk(agent_id: str) -> str:
    return f"AGENT#{agent_id}"


def usage_agent_day_sk(agent_id: str, day: str) -> str:
    return f"AGENT#{agent_id}#DAY#{day}"


def usage_currency_sk(currency: str) -> str:
    return f"VOLUME#{currency}"


def usage_days_gsi1pk(day: str) -> str:
    return f"USAGEDAY#{day}"


def consumed_event_pk(tenant_id: str, consumer: str, event_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#CONSUMED#{consumer}#{event_id}"


CONSUMED_EVENT_SK = "EVENT"


# the message quota of a billing period: a counter the message transaction increments on the
# condition that it is below the plan's limit (like the rate counters)
def message_quota_pk(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#QUOTA#MESSAGES"


def quota_period_sk(period: str) -> str:
    return f"PERIOD#{period}"


# analytics: near-real-time counters per agent and day (one partition per agent: a date range
# is one Query), the nightly rollups beside them, the tenant's analytics settings
def stats_pk(tenant_id: str, agent_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#STATS#{agent_id}"


def stats_day_sk(day: str) -> str:
    return f"DAY#{day}"


def rollup_sk(day: str) -> str:
    return f"ROLLUP#{day}"


def stats_questions_pk(tenant_id: str, agent_id: str, day: str) -> str:
    """An agent's answered questions of one local day (the rollup reads one partition)."""
    return f"{TENANT_PREFIX}{tenant_id}#STATSQ#{agent_id}#{day}"


def stats_question_sk(message_id: str) -> str:
    return f"Q#{message_id}"


def stats_days_gsi1pk(day: str) -> str:
    """Agents with counters on a day, every tenant (the rollup job's query)."""
    return f"STATSDAY#{day}"


def stats_days_gsi1sk(tenant_id: str, agent_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}#{agent_id}"


def stats_revenue_sk(day: str, currency: str) -> str:
    return f"DAY#{day}#REV#{currency}"


ANALYTICS_SETTINGS_SK = "ANALYTICS"  # beside the tenant: its analytics time zone
