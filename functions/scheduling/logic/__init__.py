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
Not built yet: a booking-intent hook for answers. The widget books through the public
routes (event types, slots in the visitor's zone, bookings with Idempotency-Key, the manage
link with ``format=ics`` for add-to-calendar).
"""

from scheduling.logic.bookings import (
    AlreadyConfirmedWithOtherPayment,
    BookingNotChangeable,
    HoldExpired,
    confirm_paid_booking,
    get_booking,
    release_hold,
)
from scheduling.models import Booking

__all__ = [
    "AlreadyConfirmedWithOtherPayment",
    "Booking",
    "BookingNotChangeable",
    "HoldExpired",
    "confirm_paid_booking",
    "get_booking",
    "release_hold",
]
