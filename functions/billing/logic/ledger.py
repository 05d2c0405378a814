"""The usage ledger, fed by domain events (bus → BillingRule → BillingEventsQueue).

Each counted event adds its usage to the tenant's period total, its day, and its agent's
period and day, once (idempotent on the event id), in one transaction. After a message is
counted, the period total is compared with the plan's included messages: crossing 80% and
100% publishes UsageThresholdReached once per period (an alert marker in the same
transaction as the event), and that event, coming back through the bus, becomes an email to
the tenant's billing address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.events import Actor, DeliveredEvent, utc_now_iso
from agenthub.observability import logger
from billing.dal import repository
from billing.logic.accounts import message_allowance, period_bounds
from billing.models import (
    QUOTA_METRIC,
    WARNING_PERCENTS,
    BookingConfirmedView,
    DocumentDeletedView,
    DocumentIndexedView,
    MessageAnsweredView,
    PaymentView,
    StoredDocument,
    UsageDelta,
    UsageThresholdReached,
    UsageThresholdReachedData,
)

# Event ids are remembered this long: past EventBridge's retry window (24 h) and the SQS
# retention (4 days) with room for a replay from the archive of the last month.
KEEP_EVENT_IDS = timedelta(days=40)
SYSTEM = Actor(kind="system")

# Warnings known to be sent, per environment (spares a write that would fail its condition).
_sent: TTLCache[bool] = ttl_cache(3600, max_entries=4096)


def delta_of(event: DeliveredEvent) -> UsageDelta | None:
    """What ``event`` adds to the ledger (None: billing does not count this type)."""
    day = event.occurred_at[:10]
    base: dict[str, Any] = {"event_id": event.event_id, "tenant_id": event.tenant_id, "day": day}
    if event.type == "MessageAnswered":
        message = event.view(MessageAnsweredView)
        counts = {
            "messages": 1,
            "answered": 0 if message.abstained else 1,
            "abstained": 1 if message.abstained else 0,
            "tokens_in": message.tokens_in,
            "tokens_out": message.tokens_out,
        }
        return UsageDelta(**base, agent_id=message.agent_id, counts=counts)
    if event.type in ("DocumentIndexed", "DocumentDeleted"):
        return _document_delta(event, base)
    if event.type == "BookingConfirmed":
        booking = event.view(BookingConfirmedView)
        return UsageDelta(**base, agent_id=booking.agent_id, counts={"bookings": 1})
    if event.type == "PaymentSucceeded":
        paid = event.view(PaymentView)
        return UsageDelta(
            **base,
            agent_id=paid.agent_id,
            counts={"payments": 1},
            volume=(paid.currency.lower(), paid.amount_minor),
        )
    if event.type == "PaymentRefunded":
        refund = event.view(PaymentView)
        return UsageDelta(
            **base,
            agent_id=refund.agent_id,
            counts={},
            volume=(refund.currency.lower(), -refund.refunded_minor),
        )
    return None


def _document_delta(event: DeliveredEvent, base: dict[str, Any]) -> UsageDelta:
    """An indexed document adds its counts and sets its bytes stored; a deleted one frees
    them (the ledger counts the change from the bytes it last counted for the document)."""
    if event.type == "DocumentDeleted":
        deleted = event.view(DocumentDeletedView)
        gone = StoredDocument(document_id=deleted.document_id, stored_bytes=None)
        return UsageDelta(**base, agent_id=deleted.agent_id, counts={}, document=gone)
    document = event.view(DocumentIndexedView)
    counts = {
        "documents_indexed": 1,
        "pages_indexed": document.pages,
        "characters_indexed": document.characters,
        "embedding_tokens": document.embedding_tokens,
    }
    stored = (
        StoredDocument(document_id=document.document_id, stored_bytes=document.stored_bytes)
        if document.document_id
        else None
    )
    return UsageDelta(**base, agent_id=document.agent_id, counts=counts, document=stored)


def record(event: DeliveredEvent) -> bool:
    """Count ``event`` once; True when it was newly counted."""
    delta = delta_of(event)
    if delta is None:
        return False
    period = event.occurred_at[:7]
    keep_until = datetime.now(UTC) + KEEP_EVENT_IDS
    if not repository.apply_usage(delta, period, keep_until):
        logger().info("duplicate delivery ignored", extra={"event_id": event.event_id})
        return False
    if delta.counts.get(QUOTA_METRIC):
        warn_on_thresholds(event.tenant_id, period)
    return True


def warn_on_thresholds(tenant_id: str, period: str) -> list[int]:
    """Publish UsageThresholdReached for each percent of the included messages the period
    has reached and not yet been warned about; the percents newly warned."""
    allowance = message_allowance(tenant_id, period_bounds(period)[0])
    included = allowance.included
    if included <= 0:
        return []
    pending = [p for p in WARNING_PERCENTS if not _sent.get((tenant_id, period, p))]
    if not pending:
        return []
    used = repository.period_total(tenant_id, period).messages
    warned = []
    for percent in pending:
        if used * 100 < included * percent:
            continue
        event = UsageThresholdReached(
            tenant_id=tenant_id,
            actor=SYSTEM,
            subject=f"billing/{tenant_id}",
            data=UsageThresholdReachedData(
                period=period,
                metric=QUOTA_METRIC,
                percent=percent,
                used=used,
                included=included,
                enforcement=allowance.enforcement,
            ),
        )
        if repository.record_alert(
            tenant_id, period, QUOTA_METRIC, percent, used, utc_now_iso(), [event]
        ):
            warned.append(percent)
        _sent.set((tenant_id, period, percent), True)
    return warned
