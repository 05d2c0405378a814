"""Paid bookings: a Checkout Session per held booking, confirmation by webhook only, unpaid
holds released after Stripe says so, late payments refunded, cancellations refunded by policy.

The booking is scheduling's (``scheduling.logic``: get_booking, confirm_paid_booking,
release_hold). Payments owns the money:

- ``create_booking_checkout``: one Checkout Session per held booking. The payment id is
  derived from the booking, the idempotency key names that payment, and ``expires_at`` is
  derived from the hold's end (Stripe wants 30 min to 24 h; our own job expires the session
  as soon as the hold ends): a retry, ours or the visitor's, gets the same session.
- ``after_payment``: once the webhook made a booking payment succeed, confirm the booking;
  if the hold is gone (expired, released, its slot re-taken) refund everything at once
  (reason ``slot_taken``) and say so to the visitor (the widget's payment view). Runs again on
  any redelivery until the booking outcome is recorded, so a crash between the two steps
  heals itself.
- ``expire_unpaid_holds`` (every minute): an open checkout whose hold ended is re-checked
  with Stripe first; an open session is expired there (a payment can no longer start), then
  the hold is released. A session Stripe says is paid is applied as a payment instead.
- ``refund_cancelled_booking``: BookingCancelled carries the refund percent the booking's
  policy snapshot gives for the notice; that share of the payment is refunded once.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from agenthub.errors import Conflict, NotFound
from agenthub.events import Actor, utc_now_iso
from agenthub.observability import logger
from payments.dal import repository
from payments.dal.repository import Applied
from payments.logic import refunds, stripe_api
from payments.logic.charges import metadata
from payments.logic.config import StripeConfig, credentials, derived_id
from payments.logic.connections import require_connection
from payments.logic.stripe_api import StripeRejected, idempotency_key
from payments.models import Payment
from scheduling.logic import (
    AlreadyConfirmedWithOtherPayment,
    BookingNotChangeable,
    HoldExpired,
    confirm_paid_booking,
    get_booking,
    release_hold,
)

SYSTEM = Actor(kind="system", key_id="payments")
# Stripe: a session's expires_at lies 30 minutes to 24 hours after its creation.
SESSION_MIN = timedelta(minutes=31)
SESSION_MAX = timedelta(hours=23)


class HoldNotLive(Conflict):
    code = "hold_expired"


def booking_payment_id(tenant_id: str, booking_id: str) -> str:
    return derived_id("pay_", tenant_id, "booking", booking_id)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def session_expiry(hold_expires_at: str) -> int:
    """Deterministic for a hold: its end plus 31 minutes, so every retry while the hold is
    live sends the same parameters and Stripe's 30-minute minimum holds."""
    end = _parse(hold_expires_at)
    return int(min(end + SESSION_MIN, end + SESSION_MAX).timestamp())


def create_booking_checkout(
    config: StripeConfig, tenant_id: str, agent_id: str, booking_id: str, *, return_url: str
) -> Payment:
    """The open payment of a held booking (created on the first call)."""
    booking = get_booking(tenant_id, booking_id)
    if booking.agent_id != agent_id:
        raise NotFound("booking not found")
    if booking.price is None:
        raise Conflict("this booking needs no payment")
    payment_id = booking_payment_id(tenant_id, booking_id)
    existing = repository.find_payment(tenant_id, payment_id)
    if existing is not None and existing.status != "expired":
        return existing
    now = datetime.now(UTC)
    live = (
        booking.status == "held"
        and booking.hold_expires_at
        and _parse(booking.hold_expires_at) > now
    )
    if not live:
        raise HoldNotLive("the booking's hold has ended; choose a time again")
    assert booking.hold_expires_at is not None
    creds = credentials(config, require_connection(tenant_id))
    meta = metadata(
        tenant_id,
        "booking",
        payment_id=payment_id,
        booking_id=booking_id,
        agent_id=agent_id,
        conversation_id=booking.conversation_id,
    )
    description = f"Booking {booking.start[:16].replace('T', ' ')} UTC"
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": booking.price.currency,
                    "unit_amount": booking.price.amount_minor,
                    "product_data": {"name": description},
                },
            }
        ],
        "metadata": meta,
        "payment_intent_data": {"metadata": meta},
        "client_reference_id": payment_id,
        "customer_email": booking.visitor_email,
        "success_url": return_url,
        "cancel_url": return_url,
        "expires_at": session_expiry(booking.hold_expires_at),
    }
    sdk = stripe_api.client(creds)
    options = {"idempotency_key": idempotency_key("checkout", tenant_id, payment_id)}
    session = stripe_api.call(lambda: sdk.v1.checkout.sessions.create(params, options))
    stamp = utc_now_iso()
    payment = Payment(
        id=payment_id,
        tenant_id=tenant_id,
        kind="booking",
        status="open",
        amount_minor=booking.price.amount_minor,
        currency=booking.price.currency,
        description=description,
        agent_id=agent_id,
        conversation_id=booking.conversation_id,
        booking_id=booking_id,
        booking_outcome="awaiting_payment",
        hold_expires_at=booking.hold_expires_at,
        checkout_session_id=session.id,
        checkout_url=session.url,
        created_at=stamp,
        updated_at=stamp,
    )
    repository.apply(payment, expected_version=None)
    return repository.get_payment(tenant_id, payment_id, consistent=True)


def _set_outcome(payment: Payment, outcome: str, **changes: Any) -> Payment:
    updated = payment.model_copy(
        update={
            "booking_outcome": outcome,
            "updated_at": utc_now_iso(),
            "version": payment.version + 1,
            **changes,
        }
    )
    result = repository.apply(updated, expected_version=payment.version)
    if result is Applied.APPLIED:
        return updated
    return repository.get_payment(payment.tenant_id, payment.id, consistent=True)


def after_payment(config: StripeConfig, payment: Payment) -> Payment:
    """Finish a booking payment the webhook made succeed (idempotent)."""
    if (
        payment.kind != "booking"
        or payment.booking_id is None
        or payment.status != "succeeded"
        or payment.booking_outcome not in (None, "awaiting_payment", "released")
    ):
        return payment
    try:
        confirm_paid_booking(payment.tenant_id, payment.booking_id, payment_id=payment.id)
    except (HoldExpired, AlreadyConfirmedWithOtherPayment, BookingNotChangeable) as exc:
        logger().info(
            "late payment refunded",
            extra={"payment_id": payment.id, "why": type(exc).__name__},
        )
        refunded = refunds.refund_payment(
            config,
            payment.tenant_id,
            payment.id,
            amount_minor=None,
            reason="slot_taken",
            actor=SYSTEM,
        )
        return _set_outcome(refunded, "refunded_slot_taken")
    return _set_outcome(payment, "confirmed")


def expire_unpaid_holds(config: StripeConfig, *, now: datetime | None = None) -> dict[str, int]:
    """The schedule's work: every open booking checkout whose hold has ended."""
    moment = now or datetime.now(UTC)
    counts = {"expired": 0, "paid": 0, "failed": 0}
    for payment in repository.open_hold_checkouts(moment):
        try:
            counts[_expire_one(config, payment)] += 1
        except Exception:  # one tenant's failure (its key revoked) must not stop the others
            logger().exception("hold expiry failed", extra={"payment_id": payment.id})
            counts["failed"] += 1
    return counts


def _expire_one(config: StripeConfig, payment: Payment) -> str:
    from payments.logic import webhooks

    assert payment.booking_id is not None and payment.checkout_session_id is not None
    sdk = stripe_api.client(credentials(config, require_connection(payment.tenant_id)))
    session_id = payment.checkout_session_id
    session = stripe_api.call(lambda: sdk.v1.checkout.sessions.retrieve(session_id)).to_dict()
    if session["status"] == "open":
        try:
            session = stripe_api.call(lambda: sdk.v1.checkout.sessions.expire(session_id)).to_dict()
        except StripeRejected:  # completed meanwhile: read what it became
            session = stripe_api.call(
                lambda: sdk.v1.checkout.sessions.retrieve(session_id)
            ).to_dict()
    applied = webhooks.apply_session_state(sdk, payment, session)
    if applied.status == "succeeded":
        after_payment(config, applied)
        return "paid"
    if applied.status == "expired":
        release_booking(applied)
    return "expired"


def release_booking(payment: Payment) -> Payment:
    """The checkout expired unpaid: free the hold (idempotent)."""
    if payment.booking_id is None or payment.booking_outcome != "awaiting_payment":
        return payment
    # Confirmed by another payment, or cancelled already: nothing to free.
    with contextlib.suppress(BookingNotChangeable):
        release_hold(payment.tenant_id, payment.booking_id, reason="payment_not_received")
    return _set_outcome(payment, "released")


def refund_cancelled_booking(
    config: StripeConfig, tenant_id: str, booking_id: str, refund_percent: int
) -> Payment | None:
    """Refund ``refund_percent`` of a cancelled booking's payment (once)."""
    payment = repository.find_payment(tenant_id, booking_payment_id(tenant_id, booking_id))
    if payment is None or payment.status not in refunds.REFUNDABLE or refund_percent <= 0:
        return payment
    target = payment.amount_minor * min(refund_percent, 100) // 100
    due = target - payment.refunded_minor
    if due <= 0:
        return payment
    return refunds.refund_payment(
        config, tenant_id, payment.id, amount_minor=due, reason="booking_cancelled", actor=SYSTEM
    )
