"""Scheduling's API and domain models: resources with weekly schedules, event types, slots,
bookings, and the versioned payloads of the domain's events.

Every time on the grid is a multiple of ``GRID_MINUTES`` (5): schedule rules, durations,
buffers, slot intervals. Lock buckets are that size (see ``logic.locks``), so a booking's
buckets never reach into a neighbour's that does not overlap it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from agenthub.events import DomainEvent, EventData
from agenthub.models import StrictInput

GRID_MINUTES = 5
# A booking's span (duration + buffers) in lock buckets: with the booking, the idempotency
# key, two limit counters, the hold marker and its event, one transaction stays within
# DynamoDB's 100 actions. 6 hours = 72 buckets.
MAX_SPAN_MINUTES = 6 * 60
MAX_SEATS = 100
MAX_RULES_PER_DAY = 6
MAX_OVERRIDES = 366
MAX_RANGE_DAYS = 31  # slots per request (Calendly: 31)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an email address like name@example.com")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


EmailStr = Annotated[str, AfterValidator(_email)]

BookingStatus = Literal["held", "confirmed", "cancelled", "expired"]
ReminderStatus = Literal["none", "scheduled", "sent", "failed", "skipped", "cancelled"]


def check_zone(name: str) -> str:
    """An IANA zone name this runtime knows (``Europe/Berlin``), else ValueError."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"'{name}' is not an IANA time zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{name}' is not an IANA time zone") from None
    return name


def minutes_of(text: str) -> int:
    """``"09:30"`` -> 570; ``"24:00"`` -> 1440 (the end of a day)."""
    if not _HHMM.match(text):
        raise ValueError(f"'{text}' is not a time like 09:30")
    hours, minutes = text.split(":")
    value = int(hours) * 60 + int(minutes)
    if value % GRID_MINUTES:
        raise ValueError(f"'{text}' is not on the {GRID_MINUTES}-minute grid")
    return value


class TimeRange(StrictInput):
    """Local wall-clock hours of one day, ``start`` < ``end`` (``end`` may be 24:00)."""

    start: str
    end: str

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if minutes_of(self.start) >= minutes_of(self.end):
            raise ValueError(f"{self.start}-{self.end}: start must be before end")
        return self

    @property
    def minutes(self) -> tuple[int, int]:
        return minutes_of(self.start), minutes_of(self.end)


def _no_overlap(ranges: list[TimeRange], where: str) -> list[TimeRange]:
    if len(ranges) > MAX_RULES_PER_DAY:
        raise ValueError(f"{where}: at most {MAX_RULES_PER_DAY} ranges")
    ordered = sorted(ranges, key=lambda r: r.minutes)
    for before, after in itertools.pairwise(ordered):
        if after.minutes[0] < before.minutes[1]:
            raise ValueError(
                f"{where}: {before.start}-{before.end} overlaps {after.start}-{after.end}"
            )
    return ordered


class WeeklySchedule(StrictInput):
    mon: list[TimeRange] = Field(default_factory=list)
    tue: list[TimeRange] = Field(default_factory=list)
    wed: list[TimeRange] = Field(default_factory=list)
    thu: list[TimeRange] = Field(default_factory=list)
    fri: list[TimeRange] = Field(default_factory=list)
    sat: list[TimeRange] = Field(default_factory=list)
    sun: list[TimeRange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _days_do_not_overlap(self) -> WeeklySchedule:
        for day in WEEKDAYS:
            setattr(self, day, _no_overlap(getattr(self, day), day))
        return self

    def of(self, day: date) -> list[TimeRange]:
        ranges: list[TimeRange] = getattr(self, WEEKDAYS[day.weekday()])
        return ranges


class DateOverride(StrictInput):
    """One local date's hours instead of the weekly ones; an empty list closes the day."""

    date: date
    ranges: list[TimeRange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ranges_do_not_overlap(self) -> DateOverride:
        self.ranges = _no_overlap(self.ranges, self.date.isoformat())
        return self


def _unique_dates(value: list[DateOverride]) -> list[DateOverride]:
    seen: set[date] = set()
    for override in value:
        if override.date in seen:
            raise ValueError(f"{override.date} is overridden twice")
        seen.add(override.date)
    return sorted(value, key=lambda o: o.date)


class ResourceFields(StrictInput):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    kind: Literal["person", "room"] | None = None
    email: EmailStr | None = None
    time_zone: str | None = None
    weekly: WeeklySchedule | None = None
    overrides: list[DateOverride] | None = Field(default=None, max_length=MAX_OVERRIDES)
    busy_ics_url: str | None = Field(default=None, max_length=2000)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return check_zone(value) if value is not None else None

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, value: list[DateOverride] | None) -> list[DateOverride] | None:
        return _unique_dates(value) if value is not None else None

    @field_validator("busy_ics_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError("busy_ics_url must be an http(s) URL")
        return value or None


class ResourceCreate(ResourceFields):
    name: str = Field(min_length=1, max_length=80)
    time_zone: str
    weekly: WeeklySchedule


class ResourceUpdate(ResourceFields):
    version: int = Field(ge=1, strict=True)


class Resource(BaseModel):
    id: str
    tenant_id: str
    name: str
    kind: str = "person"
    email: str | None = None
    time_zone: str
    weekly: WeeklySchedule
    overrides: list[DateOverride] = Field(default_factory=list)
    busy_ics_url: str | None = None
    busy_synced_at: str | None = None
    busy_sync_error: str | None = None
    has_feed: bool = False
    version: int = 1
    created_at: str
    updated_at: str

    def ranges_on(self, day: date) -> list[TimeRange]:
        for override in self.overrides:
            if override.date == day:
                return override.ranges
        return self.weekly.of(day)


class Money(StrictInput):
    amount_minor: int = Field(gt=0, le=10_000_000)
    currency: str = Field(pattern=r"^[a-z]{3}$")


class RefundTier(StrictInput):
    """Cancel at least ``min_notice_hours`` before the start: ``percent`` back."""

    min_notice_hours: int = Field(ge=0, le=24 * 90)
    percent: int = Field(ge=0, le=100)


class RefundPolicy(StrictInput):
    """full: everything back whenever cancelled; none: nothing; tiered: by notice."""

    kind: Literal["full", "none", "tiered"] = "full"
    tiers: list[RefundTier] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def _tiers(self) -> RefundPolicy:
        if self.kind == "tiered" and not self.tiers:
            raise ValueError("a tiered refund policy needs at least one tier")
        if self.kind != "tiered" and self.tiers:
            raise ValueError("tiers only belong to a tiered refund policy")
        self.tiers = sorted(self.tiers, key=lambda t: -t.min_notice_hours)
        return self

    def percent_for(self, notice_hours: float) -> int:
        """The refund percentage for a cancellation ``notice_hours`` before the start."""
        if self.kind == "full":
            return 100
        if self.kind == "none":
            return 0
        for tier in self.tiers:  # the longest notice first
            if notice_hours >= tier.min_notice_hours:
                return tier.percent
        return 0


def _grid(value: int | None, name: str) -> int | None:
    if value is not None and value % GRID_MINUTES:
        raise ValueError(f"{name} must be a multiple of {GRID_MINUTES} minutes")
    return value


class EventTypeFields(StrictInput):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=1000)
    duration_minutes: int | None = Field(default=None, ge=5, le=MAX_SPAN_MINUTES)
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=120)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=120)
    slot_interval_minutes: int | None = Field(default=None, ge=5, le=240)
    min_notice_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 30)
    horizon_days: int | None = Field(default=None, ge=1, le=365)
    daily_limit: int | None = Field(default=None, ge=1, le=1000)
    weekly_limit: int | None = Field(default=None, ge=1, le=5000)
    seats: int | None = Field(default=None, ge=1, le=MAX_SEATS)
    price: Money | None = None
    refund_policy: RefundPolicy | None = None
    hold_minutes: int | None = Field(default=None, ge=5, le=60)
    active: bool | None = None

    @field_validator(
        "duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "slot_interval_minutes"
    )
    @classmethod
    def _on_grid(cls, value: int | None, info: object) -> int | None:
        return _grid(value, getattr(info, "field_name", "value"))


class EventTypeCreate(EventTypeFields):
    agent_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    resource_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str = Field(min_length=1, max_length=80)
    duration_minutes: int = Field(ge=5, le=MAX_SPAN_MINUTES)


class EventTypeUpdate(EventTypeFields):
    version: int = Field(ge=1, strict=True)
    price: Money | None = None
    clear_price: bool = False


class EventType(BaseModel):
    id: str
    tenant_id: str
    agent_id: str
    resource_id: str
    name: str
    description: str = ""
    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    slot_interval_minutes: int | None = None  # None: the duration
    min_notice_minutes: int = 60
    horizon_days: int = 60
    daily_limit: int | None = None
    weekly_limit: int | None = None
    seats: int = 1
    price: Money | None = None
    refund_policy: RefundPolicy = Field(default_factory=RefundPolicy)
    hold_minutes: int = 15
    active: bool = True
    version: int = 1
    created_at: str
    updated_at: str

    @model_validator(mode="after")
    def _span(self) -> EventType:
        if self.span_minutes > MAX_SPAN_MINUTES:
            raise ValueError(f"duration plus buffers may be at most {MAX_SPAN_MINUTES} minutes")
        weekly, daily = self.weekly_limit, self.daily_limit
        if weekly is not None and daily is not None and weekly < daily:
            raise ValueError("weekly_limit must not be below daily_limit")
        return self

    @property
    def span_minutes(self) -> int:
        return self.buffer_before_minutes + self.duration_minutes + self.buffer_after_minutes

    @property
    def interval(self) -> int:
        return self.slot_interval_minutes or self.duration_minutes

    @property
    def paid(self) -> bool:
        return self.price is not None

    def public_view(self) -> dict[str, object]:
        view = PublicEventType(
            id=self.id,
            name=self.name,
            description=self.description,
            duration_minutes=self.duration_minutes,
            seats=self.seats,
            price=self.price,
        )
        return view.model_dump(mode="json")


class PublicEventType(BaseModel):
    """What a visitor sees of a bookable event type."""

    id: str
    name: str
    description: str
    duration_minutes: int
    seats: int
    price: Money | None = Field(description="null: free")


class Slot(BaseModel):
    start: str  # in the visitor's zone, with its offset
    end: str
    start_utc: str
    seats_left: int


class Slots(BaseModel):
    time_zone: str = Field(description="the zone the slots' start and end are given in")
    slots: list[Slot]


class FeedUrl(BaseModel):
    """A resource's new ICS feed address; the token is shown this once."""

    feed_url: str
    token: str


class BusySync(BaseModel):
    """The outcome of importing a resource's busy times from its ICS URL."""

    synced_at: str
    busy: int | None = Field(description="busy intervals stored; null when the import failed")
    error: str | None = Field(description="why the import failed; null when it worked")


class Visitor(StrictInput):
    name: str = Field(min_length=1, max_length=120)
    email: EmailStr
    time_zone: str = "UTC"
    answers: dict[str, str] = Field(default_factory=dict, max_length=20)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("answers")
    @classmethod
    def _answers(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not 1 <= len(key) <= 60 or len(text) > 1000:
                raise ValueError("answers: keys of 1-60 and values of at most 1000 characters")
        return value


class BookingCreate(Visitor):
    event_type_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    start: datetime  # an instant with its offset (or Z)
    hold: bool = False  # a pending booking with an expiry, also for free event types

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs an offset or Z (an instant, not a wall time)")
        return value


class WidgetBookingCreate(BookingCreate):
    conversation_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")


class Reschedule(StrictInput):
    start: datetime

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs an offset or Z")
        return value


class Cancel(StrictInput):
    reason: str = Field(default="", max_length=500)


class Confirm(StrictInput):
    note: str = Field(default="", max_length=200)


class LinkReschedule(Reschedule):
    token: str = Field(min_length=10, max_length=400)


class LinkCancel(Cancel):
    token: str = Field(min_length=10, max_length=400)


class Reminder(BaseModel):
    status: ReminderStatus = "none"
    due_at: str | None = None
    for_start: str | None = None  # the start it was made for (a moved booking gets a new one)
    schedule_name: str | None = None
    sent_at: str | None = None
    error: str | None = None


class Booking(BaseModel):
    """The interface payments relies on (see logic/__init__.py)."""

    id: str
    tenant_id: str
    agent_id: str
    event_type_id: str
    resource_id: str
    status: BookingStatus
    hold_expires_at: str | None = None
    start: str  # UTC, ISO 8601 with Z
    end: str
    time_zone: str  # the visitor's
    visitor_name: str
    visitor_email: str
    answers: dict[str, str] = Field(default_factory=dict)
    seats: int = 1  # the event type's capacity when booked (1: exclusive)
    price: Money | None = None
    refund_policy: RefundPolicy = Field(default_factory=RefundPolicy)
    payment_id: str | None = None
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    conversation_id: str | None = None
    cancel_reason: str | None = None
    reminder: Reminder = Field(default_factory=Reminder)
    reschedule_count: int = 0
    manage_nonce: str = ""
    version: int = 1
    created_at: str
    updated_at: str

    @property
    def start_at(self) -> datetime:
        return datetime.fromisoformat(self.start)

    @property
    def end_at(self) -> datetime:
        return datetime.fromisoformat(self.end)

    def view(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"tenant_id", "manage_nonce"})


class PublicBooking(BaseModel):
    """What a visitor sees of their own booking, with the token of its manage link."""

    id: str
    status: BookingStatus
    start: str
    end: str
    time_zone: str
    hold_expires_at: str | None
    price: Money | None
    event_type_id: str
    visitor_name: str
    manage_token: str = Field(description="for the manage, cancel and reschedule links")


# ---------------------------------------------------------------------------- locks


@dataclass(frozen=True)
class LockState:
    owner: str
    hold_until: int
    seats: dict[str, int] = field(default_factory=dict)  # seat holder -> hold_until
    v: int = 1

    def live(self, now: int) -> bool:
        return self.hold_until >= now

    def live_seats(self, now: int) -> dict[str, int]:
        return {b: h for b, h in self.seats.items() if h >= now}


@dataclass(frozen=True)
class LockWrite:
    """One bucket's change: ``new`` None deletes; ``expected`` None means "must be absent"
    (or, with ``takeover``, absent or expired as of ``now``)."""

    bucket: int
    new: LockState | None
    expected: LockState | None
    takeover: bool = False


# ---------------------------------------------------------------------------- events


class BookingPayload(EventData):
    """What every booking event carries: no visitor name or email (those stay in the table)."""

    booking_id: str
    agent_id: str
    event_type_id: str
    resource_id: str
    start: str
    end: str
    status: BookingStatus
    seats: int = 1
    paid: bool = False


class BookingHeldPayload(BookingPayload):
    hold_expires_at: str


class BookingConfirmedPayload(BookingPayload):
    payment_id: str | None = None


class BookingCancelledPayload(BookingPayload):
    reason: str = ""
    by: Literal["tenant", "visitor", "hold_expired", "hold_released"] = "tenant"
    refund_percent: int | None = None


class BookingRescheduledPayload(BookingPayload):
    previous_start: str
    previous_end: str


class ReminderSentPayload(EventData):
    booking_id: str
    start: str
    channel: Literal["email"] = "email"


class ResourceChangedPayload(EventData):
    resource_id: str
    change: Literal["created", "updated", "deleted", "feed_rotated"]
    version: int


class EventTypeChangedPayload(EventData):
    event_type_id: str
    change: Literal["created", "updated", "deleted"]
    version: int


class SchedulingEvent(DomainEvent):
    source = "agenthub.scheduling"


class BookingHeld(SchedulingEvent):
    detail_type = "BookingHeld"
    data: BookingHeldPayload


class BookingConfirmed(SchedulingEvent):
    detail_type = "BookingConfirmed"
    data: BookingConfirmedPayload


class BookingCancelled(SchedulingEvent):
    detail_type = "BookingCancelled"
    data: BookingCancelledPayload


class BookingRescheduled(SchedulingEvent):
    detail_type = "BookingRescheduled"
    data: BookingRescheduledPayload


class ReminderSent(SchedulingEvent):
    detail_type = "ReminderSent"
    data: ReminderSentPayload


class ResourceChanged(SchedulingEvent):
    detail_type = "ResourceChanged"
    data: ResourceChangedPayload


class EventTypeChanged(SchedulingEvent):
    detail_type = "EventTypeChanged"
    data: EventTypeChangedPayload
