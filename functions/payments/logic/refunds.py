"""Refunds: one Stripe refund, recorded with its payment in one transaction.

The idempotency key names the payment and the refunded total it starts from, so two identical
requests racing make one refund, while a second refund after the first is a new one. The
webhook that follows (refund.created) finds the refund recorded and changes nothing.
"""

from __future__ import annotations

from agenthub.errors import Conflict
from agenthub.events import Actor, utc_now_iso
from payments.dal import repository
from payments.dal.repository import Applied, RefundRecord
from payments.logic import stripe_api
from payments.logic.config import StripeConfig, credentials
from payments.logic.connections import require_connection
from payments.models import Payment, PaymentRefunded, PaymentRefundedData

REFUNDABLE = ("succeeded", "partially_refunded")
STRIPE_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
MAX_RACES = 3


def refund_payment(
    config: StripeConfig,
    tenant_id: str,
    payment_id: str,
    *,
    amount_minor: int | None,
    reason: str,
    actor: Actor,
) -> Payment:
    """Refund ``amount_minor`` (default: all that is left) of a succeeded payment."""
    payment = repository.get_payment(tenant_id, payment_id, consistent=True)
    if payment.status not in REFUNDABLE or not payment.payment_intent_id:
        raise Conflict(f"a {payment.status} payment cannot be refunded")
    remaining = payment.amount_minor - payment.refunded_minor
    amount = remaining if amount_minor is None else amount_minor
    if amount <= 0 or amount > remaining:
        raise Conflict(
            "the refund exceeds what is left to refund",
            details={"refundable_minor": remaining},
        )
    creds = credentials(config, require_connection(tenant_id))
    params = {
        "payment_intent": payment.payment_intent_id,
        "amount": amount,
        "reason": reason if reason in STRIPE_REASONS else "requested_by_customer",
        "metadata": {"tenant_id": tenant_id, "payment_id": payment.id, "reason": reason},
    }
    key = stripe_api.idempotency_key(
        "refund", tenant_id, payment.id, str(payment.refunded_minor), str(amount)
    )
    sdk = stripe_api.client(creds)
    refund = stripe_api.call(lambda: sdk.v1.refunds.create(params, {"idempotency_key": key}))
    return record_refund(payment, refund.id, int(refund.amount), reason, actor)


def record_refund(
    payment: Payment,
    refund_id: str,
    amount: int,
    reason: str,
    actor: Actor,
    *,
    stripe_event: repository.StripeEventRef | None = None,
) -> Payment:
    """Add a Stripe refund to its payment (once: the refund id is the condition)."""
    for _ in range(MAX_RACES):
        refunded = min(payment.amount_minor, payment.refunded_minor + amount)
        updated = payment.model_copy(
            update={
                "refunded_minor": refunded,
                "status": "refunded" if refunded >= payment.amount_minor else "partially_refunded",
                "updated_at": utc_now_iso(),
                "version": payment.version + 1,
            }
        )
        event = PaymentRefunded(
            tenant_id=payment.tenant_id,
            actor=actor,
            subject=f"payment/{payment.id}",
            data=PaymentRefundedData(
                payment_id=payment.id,
                kind=payment.kind,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                agent_id=payment.agent_id,
                booking_id=payment.booking_id,
                link_id=payment.link_id,
                refund_id=refund_id,
                refunded_minor=amount,
                total_refunded_minor=refunded,
                reason=reason,
            ),
        )
        outcome = repository.apply(
            updated,
            expected_version=payment.version,
            events=[event],
            stripe_event=stripe_event,
            refund=RefundRecord(refund_id, amount, reason),
        )
        if outcome is Applied.APPLIED:
            return updated
        payment = repository.get_payment(payment.tenant_id, payment.id, consistent=True)
        if outcome is Applied.DUPLICATE_EVENT:
            return payment
    raise Conflict("the payment is changing; retry")
