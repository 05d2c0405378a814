"""Open slots of an event type over a date range, in the visitor's time zone.

Computed from the resource's hours, the live bookings around the range (one gsi1 Query) and
imported busy times, then kept per warm environment for ``SLOTS_TTL`` seconds (the seed's
usage-level bound). A booking, cancellation or move made in this environment invalidates its
resource's entries at once; other environments may show a just-taken slot for at most that
long, and booking it then answers 409 (locks decide, never this cache).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.errors import BadRequest, NotFound
from scheduling.dal import repository
from scheduling.logic import clock, config
from scheduling.logic.availability import Candidate, Occupancy, busy_from, candidates, iso_z
from scheduling.models import MAX_RANGE_DAYS, MAX_SPAN_MINUTES, EventType, Slot, check_zone

SLOTS_TTL = 30.0
_cache: TTLCache[list[Candidate]] = ttl_cache(SLOTS_TTL, max_entries=2048)
_generation: dict[tuple[str, str], int] = {}


def invalidate(tenant_id: str, resource_id: str) -> None:
    """Forget this environment's slots of a resource (after a booking change)."""
    key = (tenant_id, resource_id)
    _generation[key] = _generation.get(key, 0) + 1


def parse_range(
    first: str | None, last: str | None, time_zone: str | None
) -> tuple[date, date, str]:
    """Validated ``from``/``to`` dates (YYYY-MM-DD) and zone, as a 400 when wrong."""
    try:
        zone = check_zone(time_zone or "UTC")
    except ValueError as exc:
        raise BadRequest(str(exc), details={"time_zone": time_zone}) from None
    try:
        start = (
            date.fromisoformat(first) if first else clock.now().astimezone(ZoneInfo(zone)).date()
        )
        end = date.fromisoformat(last) if last else start + timedelta(days=6)
    except ValueError:
        raise BadRequest("'from' and 'to' must be dates like 2026-03-09") from None
    if end < start:
        raise BadRequest("'to' must not be before 'from'")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(f"ask for at most {MAX_RANGE_DAYS} days at a time")
    return start, end, zone


def available_slots(
    tenant_id: str,
    event_type_id: str,
    first: date,
    last: date,
    time_zone: str,
    *,
    agent_id: str | None = None,
) -> list[Slot]:
    """Open starts on the visitor's dates ``first``..``last`` (in ``time_zone``)."""
    event_type = config.get_event_type(tenant_id, event_type_id)
    if (agent_id is not None and event_type.agent_id != agent_id) or not event_type.active:
        raise NotFound("event type not found")
    zone = ZoneInfo(time_zone)
    range_start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    range_end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    found = compute(tenant_id, event_type, range_start, range_end)
    return [
        Slot(
            start=c.start.astimezone(zone).isoformat(),
            end=(c.start + timedelta(minutes=event_type.duration_minutes))
            .astimezone(zone)
            .isoformat(),
            start_utc=iso_z(c.start),
            seats_left=c.seats_left,
        )
        for c in found
    ]


def compute(
    tenant_id: str, event_type: EventType, range_start: datetime, range_end: datetime
) -> list[Candidate]:
    """Candidates in [range_start, range_end), from the cache when fresh."""
    resource = config.get_resource(tenant_id, event_type.resource_id)
    generation = _generation.get((tenant_id, resource.id), 0)
    key = (
        tenant_id,
        resource.id,
        resource.version,
        event_type.id,
        event_type.version,
        generation,
        range_start,
        range_end,
    )
    cached = _cache.get(key)
    if cached is not None:
        return cached
    from scheduling.logic.bookings import busy_of

    # Bookings that can touch the range: spans reach MAX_SPAN_MINUTES back; limits count
    # whole local days and weeks around it.
    margin = timedelta(days=8 if event_type.weekly_limit else 2, minutes=MAX_SPAN_MINUTES)
    bookings = repository.bookings_between(
        tenant_id, resource.id, range_start - margin, range_end + margin
    )
    now = clock.now()
    occupancy = Occupancy(bookings, busy_from(busy_of(tenant_id, resource.id)), now)
    found = candidates(resource, event_type, occupancy, range_start, range_end, now)
    _cache.set(key, found)
    return found
