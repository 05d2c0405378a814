"""A booking offer in the conversation: when a visitor asks to book (an appointment, a call, a
table...) and the agent has bookable event types, the answer carries them with their next few
open slots, and the widget turns that into its booking step.

Detecting the wish is a pure function of the text (a few words per widget language): a message
without it costs nothing here, no read at all. With it: the tenant's scheduling config (one
Query, kept 30 s per environment) and, per event type, the slots computation (one Query of the
resource's bookings, kept 30 s). A failure to read them never costs the visitor the answer: the
offer is left out (and logged).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

# The wish to book, in the widget's languages (en, de, es, fr, pt, ar). Nouns alone ("your
# schedule", "opening hours") are not a wish: "schedule" counts only as a verb.
_INTENT = re.compile(
    r"\b(?:book(?:ing|ed)?|appointments?|reserv(?:e|ations?)|"
    r"(?:to|can i|could i|i want to|i'd like to|let me|please|want to) schedule|"
    r"schedule (?:a|an|me|my|the|it|time|call|visit|meeting|demo|session)|"
    r"termine?|buchen|reservieren|"
    r"reservar|cita|agendar|marcar|agendamento|"
    r"rendez-vous|r[ée]server|r[ée]servation|"
    r"موعد|حجز|احجز)\b",
    re.IGNORECASE,
)

MAX_EVENT_TYPES = 3
SLOTS_PER_EVENT_TYPE = 4
LOOKAHEAD_DAYS = 14


class OfferedSlot(BaseModel):
    start_utc: str
    end_utc: str
    seats_left: int


class OfferedEventType(BaseModel):
    id: str
    name: str
    description: str
    duration_minutes: int
    seats: int
    price: dict[str, Any] | None
    next_slots: list[OfferedSlot]


class BookingOffer(BaseModel):
    """The ``actions`` entry of an answer: ``{"type": "booking", "event_types": [...]}``; slot
    times are UTC (the widget shows them in the visitor's zone and reads more by day)."""

    type: str = "booking"
    event_types: list[OfferedEventType]


def wants_booking(text: str) -> bool:
    return bool(_INTENT.search(text))


def booking_offer(tenant_id: str, agent_id: str, text: str) -> BookingOffer | None:
    """The offer for this message, or None (no wish to book, or nothing to book)."""
    if not wants_booking(text):
        return None
    from scheduling.logic import clock, config, slots
    from scheduling.logic.availability import iso_z

    event_types = [e for e in config.list_event_types(tenant_id, agent_id) if e.active]
    if not event_types:
        return None
    # from the hour: the same range (and so the same cached computation) for a while; the
    # minimum notice keeps past and too-near starts out
    start = clock.now().replace(minute=0, second=0, microsecond=0)
    offered = []
    for event_type in event_types[:MAX_EVENT_TYPES]:
        found = slots.compute(tenant_id, event_type, start, start + timedelta(days=LOOKAHEAD_DAYS))
        duration = timedelta(minutes=event_type.duration_minutes)
        offered.append(
            OfferedEventType(
                id=event_type.id,
                name=event_type.name,
                description=event_type.description,
                duration_minutes=event_type.duration_minutes,
                seats=event_type.seats,
                price=event_type.price.model_dump() if event_type.price else None,
                next_slots=[
                    OfferedSlot(
                        start_utc=iso_z(c.start),
                        end_utc=iso_z(c.start + duration),
                        seats_left=c.seats_left,
                    )
                    for c in found[:SLOTS_PER_EVENT_TYPE]
                ],
            )
        )
    return BookingOffer(event_types=offered)
