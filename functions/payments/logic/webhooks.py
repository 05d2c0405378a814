"""Stripe webhooks: verified at the door, applied from a queue.

``receive`` (the webhook route, no ``stripe`` import): the raw body's signature is checked
against the endpoint's secret with Stripe's 300 s tolerance (bad or stale → 400, Stripe keeps
the event and we change nothing); an event we do not handle is acknowledged; one we handle
becomes a small message on the Stripe events queue (→ DLQ after retries). Nothing else
happens on the request: Stripe gets its 200 in one SQS call.

``process`` (the queue consumer): one BatchGetItem reads whether the event was applied, the
payment and the tenant's connection; the object is then re-fetched from Stripe, because
events arrive out of order and more than once: the state is decided from Stripe's current
object, never from the event's old copy. The change, the event id and the outbox events are
written in one transaction conditional on the payment's version and the event id's absence,
so five deliveries of one event make one change and one PaymentSucceeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agenthub.errors import BadRequest
from agenthub.events import Actor, utc_now_iso
from agenthub.observability import logger
from payments.dal import repository
from payments.dal.repository import Applied, StripeEventRef
from payments.logic import refunds, signatures, stripe_api
from payments.logic.config import StripeConfig, credentials, derived_id, webhook_secrets
from payments.models import (
    Connection,
    Payment,
    PaymentData,
    PaymentFailed,
    PaymentFailedData,
    PaymentSucceeded,
)

SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)
REFUND_EVENTS = frozenset({"refund.created", "refund.updated"})
HANDLED = SESSION_EVENTS | REFUND_EVENTS
STRIPE = Actor(kind="system", key_id="stripe")
MAX_RACES = 3
# Forward-only: a late or replayed event can never move a payment back.
RANK = {
    "open": 0,
    "processing": 1,
    "expired": 2,
    "failed": 2,
    "succeeded": 3,
    "partially_refunded": 4,
    "refunded": 4,
}


class StripeEventMessage(BaseModel):
    """What the receiver queues: enough to find the payment; the object is re-fetched."""

    event_id: str
    type: str
    object_id: str
    tenant_id: str | None  # from the tenant's own endpoint, or the object's metadata
    account: str | None = None  # Connect: the connected account the event came from
    payment_id: str | None = None
    livemode: bool = False


def payment_id_of(obj: dict[str, Any]) -> str | None:
    """Our payment id for a Stripe session or refund (from its metadata; a payment link's
    session gets one derived from the session id: every payment of a link is its own)."""
    metadata = obj.get("metadata") or {}
    if metadata.get("payment_id"):
        return str(metadata["payment_id"])
    if obj.get("object") == "checkout.session" and metadata.get("kind") == "link":
        return derived_id("pay_", str(metadata.get("tenant_id")), str(obj["id"]))
    return None


def receive(
    config: StripeConfig,
    tenant_id: str | None,
    body: bytes,
    signature: str | None,
    enqueue: Callable[[str], None],
) -> str:
    """Verify and queue one delivery. ``tenant_id`` is None on the platform's Connect
    endpoint. Returns what was done: "queued" or "ignored"."""
    secrets = webhook_secrets(config, tenant_id)
    if not secrets:
        raise BadRequest("this endpoint has no signing secret configured")
    try:
        signatures.verify(body, signature, secrets)
    except signatures.SignatureInvalid as exc:
        raise BadRequest(f"invalid Stripe signature: {exc}") from None
    event = json.loads(body)
    event_type = str(event.get("type", ""))
    if event_type not in HANDLED:
        return "ignored"
    obj = (event.get("data") or {}).get("object") or {}
    metadata = obj.get("metadata") or {}
    message = StripeEventMessage(
        event_id=str(event["id"]),
        type=event_type,
        object_id=str(obj["id"]),
        tenant_id=tenant_id or metadata.get("tenant_id"),
        account=event.get("account"),
        payment_id=payment_id_of(obj),
        livemode=bool(event.get("livemode")),
    )
    if message.tenant_id is None:
        # A Connect event about an object we did not create (no metadata): not ours.
        return "ignored"
    enqueue(message.model_dump_json())
    return "queued"


@dataclass
class Outcome:
    result: str  # applied | duplicate | unchanged | ignored
    payment: Payment | None = None


def process(config: StripeConfig, message: StripeEventMessage) -> Outcome:
    """Apply one Stripe event to its payment (idempotent; safe in any order)."""
    assert message.tenant_id is not None
    reads = repository.read_for_event(message.tenant_id, message.event_id, message.payment_id)
    if reads.seen:
        return _finish_booking(config, Outcome("duplicate", reads.payment))
    connection = reads.connection
    if connection is None or not _same_source(connection, message):
        logger().warning(
            "Stripe event for a tenant not connected this way",
            extra={"event_id": message.event_id, "tenant_id": message.tenant_id},
        )
        return Outcome("ignored")
    sdk_client = _sdk(config, connection)
    ref = StripeEventRef(message.event_id, message.type)
    object_id = message.object_id
    if message.type in SESSION_EVENTS:
        session = stripe_api.call(lambda: sdk_client.v1.checkout.sessions.retrieve(object_id))
        outcome = _apply_session(
            sdk_client,
            reads.payment,
            session.to_dict(),
            event_type=message.type,
            ref=ref,
            message=message,
        )
        return _finish_booking(config, outcome)
    refund = stripe_api.call(lambda: sdk_client.v1.refunds.retrieve(object_id)).to_dict()
    payment = reads.payment or _payment_of_intent(sdk_client, message.tenant_id, refund)
    return _apply_refund(payment, refund, message, ref)


def _payment_of_intent(sdk_client: Any, tenant_id: str, refund: dict[str, Any]) -> Payment | None:
    """A refund made outside AgentHub (Stripe's dashboard) carries no metadata of ours: find
    the payment through its payment intent (ours carry the payment id, or for a payment
    link's the session they came from)."""
    intent_id = refund.get("payment_intent")
    if not intent_id:
        return None
    intent = stripe_api.call(lambda: sdk_client.v1.payment_intents.retrieve(intent_id)).to_dict()
    metadata = intent.get("metadata") or {}
    if metadata.get("tenant_id") != tenant_id:
        return None
    payment_id = metadata.get("payment_id")
    if not payment_id and metadata.get("kind") == "link":
        params = {"payment_intent": intent_id, "limit": 1}
        sessions = stripe_api.call(lambda: sdk_client.v1.checkout.sessions.list(params))
        payment_id = next((payment_id_of(s.to_dict()) for s in sessions.data), None)
    return repository.find_payment(tenant_id, payment_id) if payment_id else None


def _finish_booking(config: StripeConfig, outcome: Outcome) -> Outcome:
    """A booking payment that succeeded confirms its booking (or is refunded); one that
    expired releases the hold. Also on a duplicate: a crash between the two steps heals on
    the next delivery."""
    payment = outcome.payment
    if payment is None or payment.kind != "booking":
        return outcome
    from payments.logic import bookings  # imports scheduling: only for booking payments

    if payment.status == "succeeded":
        return Outcome(outcome.result, bookings.after_payment(config, payment))
    if payment.status == "expired":
        return Outcome(outcome.result, bookings.release_booking(payment))
    return outcome


def _sdk(config: StripeConfig, connection: Connection) -> Any:
    return stripe_api.client(credentials(config, connection))


def _same_source(connection: Connection, message: StripeEventMessage) -> bool:
    """A Connect event must come from the tenant's own connected account (metadata alone
    could be written by any account); a tenant endpoint's event, from a key-connected one."""
    if message.account is not None:
        return connection.mode == "connect" and connection.account_id == message.account
    return connection.mode == "restricted_key"


def _target(
    payment: Payment, session: dict[str, Any], event_type: str | None
) -> tuple[str, str | None]:
    """The status Stripe's current session means for the payment, and a failure reason."""
    if session["status"] == "expired":
        return "expired", None
    if session["status"] != "complete":
        return payment.status, None
    if session["payment_status"] in ("paid", "no_payment_required"):
        return "succeeded", None
    if event_type == "checkout.session.async_payment_failed":
        return "failed", "async_payment_failed"
    return "processing", None


def apply_session_state(sdk_client: Any, payment: Payment, session: dict[str, Any]) -> Payment:
    """Bring ``payment`` to what Stripe's ``session`` says, without a Stripe event (the hold
    expiry job, which re-checks sessions itself)."""
    outcome = _apply_session(sdk_client, payment, session, event_type=None, ref=None)
    assert outcome.payment is not None
    return outcome.payment


def _apply_session(
    sdk_client: Any,
    payment: Payment | None,
    session: dict[str, Any],
    *,
    event_type: str | None,
    ref: StripeEventRef | None,
    message: StripeEventMessage | None = None,
) -> Outcome:
    for _ in range(MAX_RACES):
        if payment is None:
            assert message is not None
            payment = _payment_from_session(session, message)
            expected = None
        else:
            expected = payment.version
        status, reason = _target(payment, session, event_type)
        if expected is not None and RANK[status] <= RANK[payment.status]:
            status = payment.status  # nothing new (a late or replayed event)
        if status == "failed" and _intent_status(sdk_client, session) != "requires_payment_method":
            status = payment.status  # Stripe's intent says otherwise: trust the intent
        if status == payment.status and expected is not None:
            if ref is not None:
                repository.record_event(payment.tenant_id, ref)
            return Outcome("unchanged", payment)
        updated = payment.model_copy(
            update={
                "status": status,
                "failure_reason": reason,
                "payment_intent_id": session.get("payment_intent") or payment.payment_intent_id,
                "updated_at": utc_now_iso(),
                "version": (payment.version + 1) if expected is not None else payment.version,
            }
        )
        outcome = repository.apply(
            updated, expected_version=expected, events=_events(updated, status), stripe_event=ref
        )
        if outcome is Applied.APPLIED:
            return Outcome("applied", updated)
        if outcome is Applied.DUPLICATE_EVENT:
            return Outcome("duplicate", payment)
        payment = repository.find_payment(payment.tenant_id, payment.id)
    raise RuntimeError("the payment kept changing; it will be retried")


def _intent_status(sdk_client: Any, session: dict[str, Any]) -> str | None:
    intent_id = session.get("payment_intent")
    if not intent_id:
        return None
    return str(stripe_api.call(lambda: sdk_client.v1.payment_intents.retrieve(intent_id)).status)


def _payment_from_session(session: dict[str, Any], message: StripeEventMessage) -> Payment:
    """A payment Stripe knows and we do not (a link's session, or a checkout whose item was
    never written): rebuilt from the session's metadata."""
    metadata = session.get("metadata") or {}
    assert message.tenant_id is not None and message.payment_id is not None
    now = utc_now_iso()
    return Payment(
        id=message.payment_id,
        tenant_id=message.tenant_id,
        kind=metadata.get("kind", "one_off"),
        status="open",
        amount_minor=int(session["amount_total"]),
        currency=str(session["currency"]),
        agent_id=metadata.get("agent_id"),
        conversation_id=metadata.get("conversation_id"),
        booking_id=metadata.get("booking_id"),
        link_id=metadata.get("link_id"),
        checkout_session_id=session["id"],
        created_at=now,
        updated_at=now,
    )


def _events(payment: Payment, status: str) -> list[Any]:
    base = {
        "payment_id": payment.id,
        "kind": payment.kind,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "agent_id": payment.agent_id,
        "booking_id": payment.booking_id,
        "link_id": payment.link_id,
    }
    common = {"tenant_id": payment.tenant_id, "actor": STRIPE, "subject": f"payment/{payment.id}"}
    if status == "succeeded":
        return [PaymentSucceeded(**common, data=PaymentData(**base))]
    if status == "failed":
        reason = payment.failure_reason or "failed"
        return [PaymentFailed(**common, data=PaymentFailedData(**base, reason=reason))]
    return []


def _apply_refund(
    payment: Payment | None,
    refund: dict[str, Any],
    message: StripeEventMessage,
    ref: StripeEventRef,
) -> Outcome:
    if payment is None or refund.get("status") not in ("succeeded", "pending"):
        # Not a refund of ours, or one that failed: nothing to add (the id stays unmarked so
        # a later refund.updated to succeeded still counts).
        return Outcome("ignored", payment)
    reason = str((refund.get("metadata") or {}).get("reason") or refund.get("reason") or "stripe")
    updated = refunds.record_refund(
        payment, str(refund["id"]), int(refund["amount"]), reason, STRIPE, stripe_event=ref
    )
    if updated.version == payment.version:
        repository.record_event(payment.tenant_id, ref)
        return Outcome("duplicate", updated)
    return Outcome("applied", updated)
