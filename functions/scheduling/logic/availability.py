"""Availability: which starts an event type offers, and whether one start may be booked.

Pure functions of the resource (its weekly hours and date overrides in its IANA zone), the
event type, the live bookings and imported busy times around the range, and the clock.

Wall-clock hours become instants through ``zoneinfo`` on each local date, so a DST change is
handled by the zone database, never by adding fixed offsets: a range that starts at 13:00
starts at 13:00 local on both transition days (Cal.com shifted exactly those by an hour). A
local time that does not exist (the spring-forward gap) resolves the way ``zoneinfo``
resolves fold=0 (02:30 in New York's gap is 03:30 EDT); a range on the fall-back day covers
the real time between its ends (01:00-02:00 is two hours then). Starts step through the range
in real minutes.

Two bookings of one resource conflict when their spans (buffer before + meeting + buffer
after) overlap; a seated event type's bookings at the same start share one span up to its
seats. This is exactly what the lock items enforce (``logic.locks``), so what availability
offers and what a write accepts agree.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agenthub.errors import Conflict, ValidationFailed
from scheduling.models import GRID_MINUTES, Booking, EventType, Resource

GRID = timedelta(minutes=GRID_MINUTES)


class SlotUnavailable(Conflict):
    """The start is on the grid and in the future, but someone or something holds it."""

    code = "slot_unavailable"


class LimitReached(Conflict):
    code = "booking_limit_reached"


class InvalidStart(ValidationFailed):
    """The start can never be booked: off the grid, in the past, beyond the horizon..."""

    code = "invalid_start"

    def __init__(self, reason: str, message: str, **details: object) -> None:
        super().__init__(message, details={"reason": reason, **details})
        self.reason = reason


@dataclass(frozen=True)
class Interval:
    start: datetime  # aware, UTC
    end: datetime


@dataclass(frozen=True)
class Candidate:
    start: datetime  # UTC
    local_date: date  # the resource's date of the start (limits count by it)
    seats_left: int


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_live(booking: Booking, now: datetime) -> bool:
    """Confirmed, or held and not yet expired. A cancelled or expired booking holds nothing,
    and neither does a hold past its expiry (whatever TTL has or has not removed)."""
    if booking.status == "confirmed":
        return True
    if booking.status == "held" and booking.hold_expires_at:
        return datetime.fromisoformat(booking.hold_expires_at) > now
    return False


def span_of(booking: Booking) -> Interval:
    return Interval(
        booking.start_at - timedelta(minutes=booking.buffer_before_minutes),
        booking.end_at + timedelta(minutes=booking.buffer_after_minutes),
    )


def event_span(event_type: EventType, start: datetime) -> Interval:
    return Interval(
        start - timedelta(minutes=event_type.buffer_before_minutes),
        start + timedelta(minutes=event_type.duration_minutes + event_type.buffer_after_minutes),
    )


def _instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    # 24:00 is the next day's midnight; wall times resolve with fold=0 (see module doc).
    base = datetime.combine(day, time(0), tzinfo=zone) if minutes < 1440 else None
    if base is None:
        return utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))
    return utc(datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone))


def open_intervals(resource: Resource, first: date, last: date) -> list[tuple[date, Interval]]:
    """The resource's working hours on local dates ``first``..``last``, as UTC intervals."""
    zone = ZoneInfo(resource.time_zone)
    found = []
    day = first
    while day <= last:
        for hours in resource.ranges_on(day):
            begin, end = hours.minutes
            interval = Interval(_instant(day, begin, zone), _instant(day, end, zone))
            if interval.start < interval.end:
                found.append((day, interval))
        day += timedelta(days=1)
    return found


class Occupancy:
    """Live bookings and busy times of one resource, for fast overlap questions."""

    def __init__(
        self, bookings: Iterable[Booking], busy: Iterable[Interval], now: datetime
    ) -> None:
        self.live = [b for b in bookings if is_live(b, now)]
        blocks = [span_of(b) for b in self.live] + list(busy)
        blocks.sort(key=lambda i: i.start)
        self._starts = [i.start for i in blocks]
        self._blocks = blocks
        # the longest block bounds how far back an overlapping one can start
        self._longest = max((i.end - i.start for i in blocks), default=timedelta(0))
        self.seat_groups: dict[tuple[str, datetime], list[Booking]] = {}
        for booking in self.live:
            if booking.seats > 1:
                key = (booking.event_type_id, booking.start_at)
                self.seat_groups.setdefault(key, []).append(booking)

    def overlapping(self, span: Interval) -> list[Interval]:
        low = bisect.bisect_left(self._starts, span.start - self._longest)
        high = bisect.bisect_left(self._starts, span.end)
        return [b for b in self._blocks[low:high] if b.end > span.start]

    def seats_left(self, event_type: EventType, start: datetime) -> int:
        """Seats still free at ``start`` (0 when anything else holds the span)."""
        span = event_span(event_type, start)
        group = self.seat_groups.get((event_type.id, start), [])
        if event_type.seats > 1 and group:
            blocking = self.overlapping(span)
            for member in group:  # each member's own span is in the blocks exactly once
                blocking.remove(span_of(member))
            if blocking:
                return 0
            return max(0, event_type.seats - len(group))
        return 0 if self.overlapping(span) else event_type.seats

    def count_on(self, event_type_id: str, days: set[date], zone: ZoneInfo) -> int:
        return sum(
            1
            for b in self.live
            if b.event_type_id == event_type_id and b.start_at.astimezone(zone).date() in days
        )


def week_of(day: date) -> set[date]:
    monday = day - timedelta(days=day.weekday())
    return {monday + timedelta(days=n) for n in range(7)}


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def candidates(
    resource: Resource,
    event_type: EventType,
    occupancy: Occupancy,
    range_start: datetime,
    range_end: datetime,
    now: datetime,
) -> list[Candidate]:
    """Every start in [range_start, range_end) the event type may be booked at now."""
    zone = ZoneInfo(resource.time_zone)
    earliest = now + timedelta(minutes=event_type.min_notice_minutes)
    last_day = now.astimezone(zone).date() + timedelta(days=event_type.horizon_days)
    first = range_start.astimezone(zone).date() - timedelta(days=1)
    last = min(range_end.astimezone(zone).date(), last_day)
    duration = timedelta(minutes=event_type.duration_minutes)
    step = timedelta(minutes=event_type.interval)
    day_counts: dict[date, int] = {}
    week_counts: dict[str, int] = {}
    found = []
    for day, hours in open_intervals(resource, first, last):
        start = hours.start
        while start + duration <= hours.end:
            if (
                range_start <= start < range_end
                and start >= earliest
                and _within_limits(event_type, occupancy, day, zone, day_counts, week_counts)
            ):
                seats = occupancy.seats_left(event_type, start)
                if seats > 0:
                    found.append(Candidate(start, day, seats))
            start += step
    found.sort(key=lambda c: c.start)
    return found


def _within_limits(
    event_type: EventType,
    occupancy: Occupancy,
    day: date,
    zone: ZoneInfo,
    day_counts: dict[date, int],
    week_counts: dict[str, int],
) -> bool:
    if event_type.daily_limit is not None:
        if day not in day_counts:
            day_counts[day] = occupancy.count_on(event_type.id, {day}, zone)
        if day_counts[day] >= event_type.daily_limit:
            return False
    if event_type.weekly_limit is not None:
        week = iso_week(day)
        if week not in week_counts:
            week_counts[week] = occupancy.count_on(event_type.id, week_of(day), zone)
        if week_counts[week] >= event_type.weekly_limit:
            return False
    return True


def check_start(
    resource: Resource,
    event_type: EventType,
    occupancy: Occupancy,
    start: datetime,
    now: datetime,
) -> Candidate:
    """The candidate for ``start`` or the reason it cannot be booked: InvalidStart (422) for
    a start that can never be booked, SlotUnavailable / LimitReached (409) for one taken."""
    start = utc(start)
    zone = ZoneInfo(resource.time_zone)
    if start.timestamp() % (GRID_MINUTES * 60):
        raise InvalidStart("off_grid", f"starts are on a {GRID_MINUTES}-minute grid")
    if start <= now:
        raise InvalidStart("past", "that time has passed")
    if start < now + timedelta(minutes=event_type.min_notice_minutes):
        raise InvalidStart(
            "min_notice",
            f"book at least {event_type.min_notice_minutes} minutes ahead",
            min_notice_minutes=event_type.min_notice_minutes,
        )
    local_day = start.astimezone(zone).date()
    if local_day > now.astimezone(zone).date() + timedelta(days=event_type.horizon_days):
        raise InvalidStart(
            "beyond_horizon",
            f"bookings open {event_type.horizon_days} days ahead",
            horizon_days=event_type.horizon_days,
        )
    duration = timedelta(minutes=event_type.duration_minutes)
    step = timedelta(minutes=event_type.interval)
    matching = [
        day
        for day, hours in open_intervals(resource, local_day - timedelta(days=1), local_day)
        if timedelta(0) <= start - hours.start
        and start + duration <= hours.end
        and not (start - hours.start) % step
    ]
    if not matching:
        raise InvalidStart("off_slot_grid", "that time is not one of the offered slots")
    day = matching[0]
    if not _within_limits(event_type, occupancy, day, zone, {}, {}):
        raise LimitReached("no more bookings of this kind that day or week")
    seats = occupancy.seats_left(event_type, start)
    if seats <= 0:
        raise SlotUnavailable("that time was just taken; choose another slot")
    return Candidate(start, day, seats)


def busy_from(pairs: Sequence[Sequence[str]]) -> list[Interval]:
    """Imported busy times stored as (start, end) ISO pairs."""
    return [Interval(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in pairs]
