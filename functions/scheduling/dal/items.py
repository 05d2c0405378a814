"""pynamodb items of the scheduling domain (stay inside dal/).

Resources, event types and bookings keep their pydantic model as JSON in ``body``; the
attributes that conditions and indexes need (status, version, hold expiry, link nonce) are
top-level attributes beside it.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from agenthub.table import TableItem


class ResourceItem(TableItem, discriminator="sched_resource"):
    resource_id = UnicodeAttribute()
    body = JSONAttribute()
    feed_token_hash = UnicodeAttribute(null=True)


class EventTypeItem(TableItem, discriminator="sched_event_type"):
    event_type_id = UnicodeAttribute()
    body = JSONAttribute()


class BusyTimesItem(TableItem, discriminator="sched_busy"):
    """Busy intervals imported from a resource's external calendar: [[start, end], ...]."""

    resource_id = UnicodeAttribute()
    intervals = JSONAttribute()
    synced_at = UnicodeAttribute()


class BookingItem(TableItem, discriminator="booking"):
    booking_id = UnicodeAttribute()
    status = UnicodeAttribute()
    hold_until = NumberAttribute(default=0)  # epoch seconds, for held bookings
    manage_nonce = UnicodeAttribute()
    body = JSONAttribute()


class HoldMarkerItem(TableItem, discriminator="booking_hold"):
    """Present while a booking is held; gsi1 lists holds of every tenant by expiry."""

    booking_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()


class SlotLockItem(TableItem, discriminator="slot_lock"):
    owner = UnicodeAttribute()
    hold_until = NumberAttribute()
    seats = JSONAttribute(null=True)  # {booking id: hold_until} of a seated group
    v = NumberAttribute()


class BookingLimitItem(TableItem, discriminator="booking_limit"):
    taken = NumberAttribute(default=0)


class IdempotencyItem(TableItem, discriminator="idempotency"):
    fingerprint = UnicodeAttribute()
    booking_id = UnicodeAttribute()


class NoticeItem(TableItem, discriminator="booking_notice"):
    """One email of a booking, claimed before it is sent: ``sending`` until SES took it, then
    ``sent`` (kept 30 days), so a redelivered message does not send it again."""

    state = UnicodeAttribute()
    claimed_at = NumberAttribute()  # epoch seconds
