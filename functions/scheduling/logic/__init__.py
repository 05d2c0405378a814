"""Scheduling's public logic functions: what other domains may call, in process.

For payments (paid event types)
-------------------------------
An event type may carry ``price`` ({amount_minor, currency}) and ``refund_policy`` (full,
none, or tiered by notice: ``[{min_notice_hours, percent}]``). Booking a paid event type
creates a **hold**: ``status="held"`` with ``hold_expires_at`` (the event type's
``hold_minutes``, 5-60, default 15). The hold owns its slot until then; its expiry is part of
every write condition, so once it passes the slot can be re-taken at once (TTL only cleans
up). Payments creates the Stripe Checkout Session for a held booking through its own route,
then:

- ``get_booking(tenant_id, booking_id)`` -> ``Booking`` (id, agent_id, event_type_id,
  resource_id, status held|confirmed|cancelled|expired, hold_expires_at, start/end in UTC,
  time_zone, visitor_name/visitor_email, price or None, refund_policy snapshot, payment_id).
  Another tenant's id raises NotFound.
- ``confirm_paid_booking(tenant_id, booking_id, *, payment_id)``: compare-and-swap
  held -> confirmed. Idempotent for the same payment_id (returns the booking); raises
  ``HoldExpired`` (409 ``hold_expired``) when the hold is no longer live (expired, released,
  or its slot re-taken): refund then. Another payment on a confirmed booking raises
  ``AlreadyConfirmedWithOtherPayment`` (409).
- ``release_hold(tenant_id, booking_id, *, reason)``: end a hold (checkout expired or
  abandoned) and free the slot. Idempotent; a confirmed booking raises BookingNotChangeable.
- A cancellation of a paid, confirmed booking emits ``BookingCancelled`` whose payload
  carries ``refund_percent`` from the snapshot policy and the notice given; payments refunds
  from that event.

Events (source ``agenthub.scheduling``, through the outbox): BookingHeld, BookingConfirmed,
BookingCancelled, BookingRescheduled, ReminderSent, ResourceChanged, EventTypeChanged.

For conversations and the widget
--------------------------------
- ``booking_offer(tenant_id, agent_id, text)`` -> ``BookingOffer | None``: when the visitor's
  message asks to book and the agent has active event types, those (at most 3) with their next
  open slots (UTC); the conversation's answer carries it as ``actions: [{"type": "booking",
  ...}]``. A message without that wish is a pure text check: no read. ``wants_booking(text)``
  is that check alone.

The widget books through the public routes (event types, slots in the visitor's zone,
bookings with Idempotency-Key, the manage link with ``format=ics`` for add-to-calendar).

Imported on first use (module ``__getattr__``): the conversations function imports this
package on its message path and must not pay for the booking code it rarely needs.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduling.logic.bookings import (
        AlreadyConfirmedWithOtherPayment,
        BookingNotChangeable,
        HoldExpired,
        confirm_paid_booking,
        get_booking,
        release_hold,
    )
    from scheduling.logic.offer import BookingOffer, booking_offer, wants_booking
    from scheduling.models import Booking

_HOMES = {
    "AlreadyConfirmedWithOtherPayment": "scheduling.logic.bookings",
    "BookingNotChangeable": "scheduling.logic.bookings",
    "HoldExpired": "scheduling.logic.bookings",
    "confirm_paid_booking": "scheduling.logic.bookings",
    "get_booking": "scheduling.logic.bookings",
    "release_hold": "scheduling.logic.bookings",
    "BookingOffer": "scheduling.logic.offer",
    "booking_offer": "scheduling.logic.offer",
    "wants_booking": "scheduling.logic.offer",
    "Booking": "scheduling.models",
}

__all__ = [
    "AlreadyConfirmedWithOtherPayment",
    "Booking",
    "BookingNotChangeable",
    "BookingOffer",
    "HoldExpired",
    "booking_offer",
    "confirm_paid_booking",
    "get_booking",
    "release_hold",
    "wants_booking",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
