"""Calendar interop: .ics files of bookings (RFC 5545, icalendar), a per-resource ICS feed
behind a secret token that Google and Outlook can subscribe to, and busy times imported from
a resource's external ICS URL through knowledge's SSRF-safe fetcher.

icalendar and recurring-ical-events load only here (the scheduling layer), never on the
slots or booking path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agenthub.errors import NotFound
from agenthub.events import Actor, utc_now_iso
from scheduling.dal import repository
from scheduling.logic import clock, config
from scheduling.logic.availability import is_live
from scheduling.models import Booking, ResourceChanged, ResourceChangedPayload

PRODID = "-//AgentHub//Scheduling//EN"
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=365)
IMPORT_AHEAD = timedelta(days=120)
MAX_IMPORTED = 5000
ICS_TYPES = ("text/calendar", "application/ics", "text/plain")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def rotate_feed_token(tenant_id: str, resource_id: str, actor: Actor) -> str:
    """A new feed token (returned once, stored as a hash); the previous one stops working."""
    resource = config.get_resource(tenant_id, resource_id, fresh=True)
    token = secrets.token_urlsafe(24)
    event = ResourceChanged(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"resource/{resource_id}",
        data=ResourceChangedPayload(
            resource_id=resource_id, change="feed_rotated", version=resource.version
        ),
    )
    repository.set_feed_token_hash(tenant_id, resource_id, _digest(token), [event])
    config.config_cache().invalidate(tenant_id)
    return token


def _calendar(method: str | None = None) -> Any:
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    return calendar


def _event(booking: Booking, title: str, *, cancelled: bool = False) -> Any:
    from icalendar import Event

    event = Event()
    event.add("uid", f"{booking.id}@agenthub")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    event.add("summary", title)
    event.add("sequence", booking.version)
    status = "CANCELLED" if cancelled else "TENTATIVE" if booking.status == "held" else "CONFIRMED"
    event.add("status", status)
    return event


def booking_ics(booking: Booking, *, method: str = "PUBLISH", title: str | None = None) -> str:
    """One booking as an .ics file (``method`` REQUEST for invitations, CANCEL to withdraw)."""
    calendar = _calendar(method)
    name = title or booking_title(booking)
    calendar.add_component(_event(booking, name, cancelled=method == "CANCEL"))
    return calendar.to_ical().decode()


def booking_title(booking: Booking) -> str:
    try:
        return config.get_event_type(booking.tenant_id, booking.event_type_id).name
    except NotFound:
        return "Appointment"


def feed_ics(tenant_id: str, resource_id: str, token: str) -> str:
    """The resource's live bookings (30 days back, a year ahead) as a calendar; a wrong
    token, a resource without a feed or another tenant's ids are all simply not found."""
    stored = repository.feed_token_hash(tenant_id, resource_id)
    if stored is None or not hmac.compare_digest(stored, _digest(token)):
        raise NotFound("no such calendar")
    now = clock.now()
    found = repository.bookings_between(tenant_id, resource_id, now - FEED_PAST, now + FEED_AHEAD)
    calendar = _calendar()
    calendar.add("x-wr-calname", config.get_resource(tenant_id, resource_id).name)
    for booking in found:
        if is_live(booking, now):
            title = f"{booking_title(booking)}: {booking.visitor_name}"
            calendar.add_component(_event(booking, title))
    return calendar.to_ical().decode()


def parse_busy(data: bytes, zone: str, start: datetime, end: datetime) -> list[list[str]]:
    """Busy intervals of an ICS file between ``start`` and ``end`` (recurrences expanded;
    transparent and cancelled events skipped; all-day events cover the resource's day)."""
    import recurring_ical_events
    from icalendar import Calendar

    calendar = Calendar.from_ical(data)
    local = ZoneInfo(zone)
    found: list[list[str]] = []
    for event in recurring_ical_events.of(calendar).between(start, end):
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        begin = _instant(event.get("DTSTART").dt, local)
        finish = _instant(event.get("DTEND").dt, local) if event.get("DTEND") else begin
        if finish > begin:
            found.append([begin.isoformat(), finish.isoformat()])
        if len(found) >= MAX_IMPORTED:
            break
    return sorted(found)


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):  # an all-day event: the resource's whole day
        value = datetime.combine(value, time(0), zone)
    elif value.tzinfo is None:  # floating time: the resource's wall clock
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def sync_busy_times(
    tenant_id: str, resource_id: str, *, allow_private: bool = False
) -> dict[str, Any]:
    """Fetch the resource's ICS URL (SSRF-safe), store its busy times, record the outcome.
    A failed fetch keeps the last good import and reports why."""
    from knowledge.logic import FetchLimits, UrlRejected, fetch_url

    resource = config.get_resource(tenant_id, resource_id, fresh=True)
    if not resource.busy_ics_url:
        raise NotFound("this resource has no busy_ics_url")
    now = clock.now()
    synced_at = utc_now_iso()
    try:
        fetched = fetch_url(
            resource.busy_ics_url,
            limits=FetchLimits(max_bytes=2 * 1024 * 1024, total_timeout=15.0),
            allow_private=allow_private,
            content_types=ICS_TYPES,
        )
        intervals = parse_busy(fetched.data, resource.time_zone, now, now + IMPORT_AHEAD)
    except UrlRejected as exc:
        repository.record_sync(tenant_id, resource_id, None, synced_at, exc.message)
        return {"synced_at": synced_at, "busy": None, "error": exc.message}
    except ValueError as exc:  # not a calendar icalendar can read
        message = f"the URL did not return a readable calendar ({exc.__class__.__name__})"
        repository.record_sync(tenant_id, resource_id, None, synced_at, message)
        return {"synced_at": synced_at, "busy": None, "error": message}
    repository.record_sync(tenant_id, resource_id, intervals, synced_at, None)
    from scheduling.logic import bookings, slots

    bookings.busy_cache().invalidate((tenant_id, resource_id))
    slots.invalidate(tenant_id, resource_id)
    config.config_cache().invalidate(tenant_id)
    return {"synced_at": synced_at, "busy": len(intervals), "error": None}


def sync_all(*, allow_private: bool = False) -> dict[str, int]:
    """The schedule's job: every resource with an import URL (each failure recorded on it)."""
    done = failed = 0
    for tenant_id, resource_id in repository.resources_to_sync():
        try:
            outcome = sync_busy_times(tenant_id, resource_id, allow_private=allow_private)
        except NotFound:
            continue
        if outcome["error"]:
            failed += 1
        else:
            done += 1
    return {"synced": done, "failed": failed}
