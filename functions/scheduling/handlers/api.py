"""Scheduling REST API: resources and event types (secret keys), slots and bookings (secret
keys, and the widget's publishable key), the visitor's signed manage links, and each
resource's ICS feed (its own secret token)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import Response

from agenthub import public_limits
from agenthub.errors import BadRequest
from agenthub.events import Actor
from agenthub.http import (
    ALL_ROLES,
    JSON,
    MANAGERS,
    WRITERS,
    Caller,
    accepts,
    answers,
    api_handler,
    check_path_ids,
    client_address,
    endpoint,
    json_response,
    make_resolver,
    no_content,
    parse_body,
    public_cors,
    publishable_caller,
)
from agenthub.public_limits import Count, PublicLimitSettings
from agenthub.settings import ApiSettings, load_settings
from scheduling.logic import bookings, config, feeds, links, slots
from scheduling.models import (
    Booking,
    BookingCreate,
    BusySync,
    Cancel,
    Confirm,
    EventType,
    EventTypeCreate,
    EventTypeUpdate,
    FeedUrl,
    LinkCancel,
    LinkReschedule,
    PublicBooking,
    PublicEventType,
    Reschedule,
    Resource,
    ResourceCreate,
    ResourceUpdate,
    Slots,
    WidgetBookingCreate,
)

app = make_resolver()

RESOURCES = "/v1/scheduling/resources"
EVENT_TYPES = "/v1/scheduling/event-types"
BOOKINGS = "/v1/bookings"
WIDGET = "/v1/public/agents/<agentId>"
LINKS = "/v1/public/bookings"
LINKS_SCOPE = "manage-links"  # what manage links' counters are scoped by (no agent in them)
CALENDAR = "text/calendar"
# What a booking's answers leave out (Booking.view).
HIDDEN = frozenset({"tenant_id", "manage_nonce"})
# Slots may be revalidated cheaply (ETag) but never reused blind: a booking changes them.
SLOTS_CACHE_CONTROL = "no-cache"


class SchedulingApiSettings(PublicLimitSettings, ApiSettings):
    allow_private_urls: bool = False  # local runtime only: busy-time import from 127.0.0.1


def _settings() -> SchedulingApiSettings:
    return load_settings(SchedulingApiSettings)


def _signer() -> links.LinkSigner:
    from agenthub.clients import secret_json

    return links.LinkSigner(str(secret_json(_settings().signing_secret_arn)["key"]).encode())


def _counts(tenant_id: str, scope_id: str, who: Caller | None, write: bool) -> list[Count]:
    """The public route's counters: the client address's and (widget) the publishable key's;
    manage links and ICS feeds (``who`` None) count per client address only."""
    window = _settings().writes() if write else _settings().reads()
    key_id = who.key_id if who else None
    address = client_address(app)
    return public_limits.counts(tenant_id, scope_id, window, client_address=address, key_id=key_id)


def _actor(who: Caller) -> Actor:
    return Actor(**who.actor)


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


def _idempotency_key() -> str | None:
    return app.current_event.headers.get("idempotency-key")


def _range_query() -> tuple[Any, Any, str]:
    return slots.parse_range(_query("from"), _query("to"), _query("time_zone"))


def _public_booking(booking: Booking) -> dict[str, Any]:
    """What the visitor may see of their own booking (and the link to manage it)."""
    view = PublicBooking(
        id=booking.id,
        status=booking.status,
        start=booking.start,
        end=booking.end,
        time_zone=booking.time_zone,
        hold_expires_at=booking.hold_expires_at,
        price=booking.price,
        event_type_id=booking.event_type_id,
        visitor_name=booking.visitor_name,
        manage_token=_signer().token(booking.tenant_id, booking.id, booking.manage_nonce),
    )
    return view.model_dump(mode="json")


# ---------------------------------------------------------------------------- resources


@app.post(RESOURCES, summary="Create a resource (a person or a room)", tags=["scheduling"])
@answers(Resource, status=201, exclude={"tenant_id"})
@endpoint(app, roles=WRITERS, body=ResourceCreate)
def create_resource(who: Caller, body: ResourceCreate):
    resource = config.create_resource(who.tenant_id, body, _actor(who))
    return json_response(app, resource.model_dump(mode="json", exclude={"tenant_id"}), status=201)


@app.get(RESOURCES, summary="List resources", tags=["scheduling"])
@answers(Resource, page=True, exclude={"tenant_id"})
@endpoint(app, roles=ALL_ROLES)
def list_resources(who: Caller):
    found = config.list_resources(who.tenant_id)
    items = [r.model_dump(mode="json", exclude={"tenant_id"}) for r in found]
    return json_response(app, {"items": items})


@app.get(f"{RESOURCES}/<resourceId>", summary="Get a resource", tags=["scheduling"])
@answers(Resource, exclude={"tenant_id"})
@endpoint(app, roles=ALL_ROLES)
def get_resource(who: Caller, resourceId: str):
    resource = config.get_resource(who.tenant_id, resourceId, fresh=True)
    return json_response(app, resource.model_dump(mode="json", exclude={"tenant_id"}))


@app.patch(f"{RESOURCES}/<resourceId>", summary="Change a resource (version)", tags=["scheduling"])
@answers(Resource, exclude={"tenant_id"})
@endpoint(app, roles=WRITERS, body=ResourceUpdate)
def update_resource(who: Caller, body: ResourceUpdate, resourceId: str):
    resource = config.update_resource(who.tenant_id, resourceId, body, _actor(who))
    return json_response(app, resource.model_dump(mode="json", exclude={"tenant_id"}))


@app.delete(f"{RESOURCES}/<resourceId>", summary="Delete a resource", tags=["scheduling"])
@answers(status=204)
@endpoint(app, roles=MANAGERS)
def delete_resource(who: Caller, resourceId: str):
    config.delete_resource(who.tenant_id, resourceId, _actor(who))
    return no_content()


@app.post(
    f"{RESOURCES}/<resourceId>/feed",
    summary="New ICS feed URL for a resource (shown once; the old one stops)",
    tags=["scheduling"],
)
@answers(FeedUrl, status=201)
@endpoint(app, roles=MANAGERS)
def rotate_feed(who: Caller, resourceId: str):
    token = feeds.rotate_feed_token(who.tenant_id, resourceId, _actor(who))
    path = f"/v1/public/calendars/{who.tenant_id}/{resourceId}?token={token}"
    return json_response(app, {"feed_url": _base_url() + path, "token": token}, status=201)


@app.post(
    f"{RESOURCES}/<resourceId>/busy-sync",
    summary="Import busy times from the resource's ICS URL now",
    tags=["scheduling"],
)
@answers(BusySync)
@endpoint(app, roles=WRITERS)
def sync_busy_times(who: Caller, resourceId: str):
    allow = _settings().allow_private_urls
    outcome = feeds.sync_busy_times(who.tenant_id, resourceId, allow_private=allow)
    return json_response(app, outcome)


def _base_url() -> str:
    event = app.current_event
    host = event.headers.get("host") or ""
    stage = event.request_context.stage
    prefix = f"/{stage}" if host.endswith(".amazonaws.com") and stage else ""
    scheme = event.headers.get("x-forwarded-proto") or "https"
    return f"{scheme}://{host}{prefix}" if host else ""


# ---------------------------------------------------------------------------- event types


@app.post(EVENT_TYPES, summary="Create an event type", tags=["scheduling"])
@answers(EventType, status=201, exclude={"tenant_id"})
@endpoint(app, roles=WRITERS, body=EventTypeCreate)
def create_event_type(who: Caller, body: EventTypeCreate):
    event_type = config.create_event_type(who.tenant_id, body, _actor(who))
    return json_response(app, event_type.model_dump(mode="json", exclude={"tenant_id"}), status=201)


@app.get(EVENT_TYPES, summary="List event types", tags=["scheduling"])
@answers(EventType, page=True, exclude={"tenant_id"})
@endpoint(app, roles=ALL_ROLES)
def list_event_types(who: Caller):
    agent_id = _query("agent_id")
    if agent_id is not None:
        check_path_ids({"agent_id": agent_id})
    found = config.list_event_types(who.tenant_id)
    items = [
        e.model_dump(mode="json", exclude={"tenant_id"})
        for e in found
        if agent_id is None or e.agent_id == agent_id
    ]
    return json_response(app, {"items": items})


@app.get(f"{EVENT_TYPES}/<eventTypeId>", summary="Get an event type", tags=["scheduling"])
@answers(EventType, exclude={"tenant_id"})
@endpoint(app, roles=ALL_ROLES)
def get_event_type(who: Caller, eventTypeId: str):
    event_type = config.get_event_type(who.tenant_id, eventTypeId, fresh=True)
    return json_response(app, event_type.model_dump(mode="json", exclude={"tenant_id"}))


@app.patch(f"{EVENT_TYPES}/<eventTypeId>", summary="Change an event type", tags=["scheduling"])
@answers(EventType, exclude={"tenant_id"})
@endpoint(app, roles=WRITERS, body=EventTypeUpdate)
def update_event_type(who: Caller, body: EventTypeUpdate, eventTypeId: str):
    event_type = config.update_event_type(who.tenant_id, eventTypeId, body, _actor(who))
    return json_response(app, event_type.model_dump(mode="json", exclude={"tenant_id"}))


@app.delete(f"{EVENT_TYPES}/<eventTypeId>", summary="Delete an event type", tags=["scheduling"])
@answers(status=204)
@endpoint(app, roles=MANAGERS)
def delete_event_type(who: Caller, eventTypeId: str):
    config.delete_event_type(who.tenant_id, eventTypeId, _actor(who))
    return no_content()


@app.get(
    f"{EVENT_TYPES}/<eventTypeId>/slots",
    summary="Open slots (from, to: dates; time_zone: IANA)",
    tags=["scheduling"],
)
@answers(Slots)
@endpoint(app, roles=ALL_ROLES)
def get_slots(who: Caller, eventTypeId: str):
    first, last, zone = _range_query()
    found = slots.available_slots(who.tenant_id, eventTypeId, first, last, zone)
    data = Slots(time_zone=zone, slots=found).model_dump()
    return json_response(app, data)


# ---------------------------------------------------------------------------- bookings


@app.post(BOOKINGS, summary="Book a slot (Idempotency-Key)", tags=["bookings"])
@answers(Booking, status=(201, 200), exclude=HIDDEN)
@endpoint(app, roles=WRITERS, body=BookingCreate)
def create_booking(who: Caller, body: BookingCreate):
    made = bookings.create_booking(
        who.tenant_id, body, _actor(who), idempotency_key=_idempotency_key()
    )
    return json_response(app, made.booking.view(), status=201 if made.created else 200)


@app.get(BOOKINGS, summary="A resource's bookings (resource_id, from, to)", tags=["bookings"])
@answers(Booking, page=True, exclude=HIDDEN)
@endpoint(app, roles=ALL_ROLES)
def list_bookings(who: Caller):
    resource_id = _query("resource_id")
    if not resource_id:
        raise BadRequest("'resource_id' is required")
    check_path_ids({"resource_id": resource_id})
    first, last, _ = slots.parse_range(_query("from"), _query("to"), "UTC")
    start = datetime.combine(first, time(0), UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), UTC)
    found = bookings.list_bookings(who.tenant_id, resource_id, start, end)
    return json_response(app, {"items": [b.view() for b in found]})


@app.get(f"{BOOKINGS}/<bookingId>", summary="Get a booking", tags=["bookings"])
@answers(Booking, exclude=HIDDEN)
@endpoint(app, roles=ALL_ROLES)
def get_booking(who: Caller, bookingId: str):
    return json_response(app, bookings.get_booking(who.tenant_id, bookingId).view())


@app.post(f"{BOOKINGS}/<bookingId>/confirm", summary="Confirm a hold", tags=["bookings"])
@answers(Booking, exclude=HIDDEN)
@endpoint(app, roles=WRITERS, body=Confirm)
def confirm_booking(who: Caller, body: Confirm, bookingId: str):
    booking = bookings.confirm_booking(who.tenant_id, bookingId, _actor(who))
    return json_response(app, booking.view())


@app.post(f"{BOOKINGS}/<bookingId>/cancel", summary="Cancel a booking", tags=["bookings"])
@answers(Booking, exclude=HIDDEN)
@endpoint(app, roles=WRITERS, body=Cancel)
def cancel_booking(who: Caller, body: Cancel, bookingId: str):
    booking = bookings.cancel_booking(who.tenant_id, bookingId, _actor(who), reason=body.reason)
    return json_response(app, booking.view())


@app.post(
    f"{BOOKINGS}/<bookingId>/reschedule",
    summary="Move a booking (atomic; Idempotency-Key)",
    tags=["bookings"],
)
@answers(Booking, exclude=HIDDEN)
@endpoint(app, roles=WRITERS, body=Reschedule)
def reschedule_booking(who: Caller, body: Reschedule, bookingId: str):
    booking = bookings.reschedule_booking(
        who.tenant_id, bookingId, body.start, _actor(who), idempotency_key=_idempotency_key()
    )
    return json_response(app, booking.view())


# ---------------------------------------------------------------------------- the widget


@app.get(f"{WIDGET}/event-types", summary="Bookable event types (widget)", tags=["widget"])
@answers(PublicEventType, page=True)
def widget_event_types(agentId: str):
    who = publishable_caller(app, agentId)
    public_limits.take(_counts(who.tenant_id, agentId, who, write=False))
    found = config.list_event_types(who.tenant_id, agentId)
    items = [e.public_view() for e in found if e.active]
    return json_response(app, {"items": items}, headers=public_cors(app))


@app.get(
    f"{WIDGET}/event-types/<eventTypeId>/slots",
    summary="Open slots in the visitor's time zone (widget)",
    tags=["widget"],
)
@answers(Slots)
def widget_slots(agentId: str, eventTypeId: str):
    who = publishable_caller(app, agentId)
    check_path_ids({"eventTypeId": eventTypeId})
    first, last, zone = _range_query()
    public_limits.take(_counts(who.tenant_id, agentId, who, write=False))
    found = slots.available_slots(who.tenant_id, eventTypeId, first, last, zone, agent_id=agentId)
    data = Slots(time_zone=zone, slots=found).model_dump()
    headers = {**public_cors(app), "Cache-Control": SLOTS_CACHE_CONTROL}
    return json_response(app, data, headers=headers, conditional=True)


@app.post(f"{WIDGET}/bookings", summary="Book a slot (widget, Idempotency-Key)", tags=["widget"])
@answers(PublicBooking, status=(201, 200))
@accepts(WidgetBookingCreate)
def widget_booking(agentId: str):
    who = publishable_caller(app, agentId)
    body = parse_body(app, WidgetBookingCreate)
    request = BookingCreate(**body.model_dump(exclude={"conversation_id", "hold"}))
    made = bookings.create_booking(
        who.tenant_id,
        request,
        _actor(who),
        agent_id=agentId,
        idempotency_key=_idempotency_key(),
        conversation_id=body.conversation_id,
        counted=_counts(who.tenant_id, agentId, who, write=True),
    )
    status = 201 if made.created else 200
    return json_response(
        app, _public_booking(made.booking), status=status, headers=public_cors(app)
    )


# ---------------------------------------------------------------------------- manage links


def _token() -> str:
    token = _query("token")
    if not token:
        raise BadRequest("'token' is required")
    return token


@app.get(f"{LINKS}/manage", summary="A booking by its manage link (format=ics)", tags=["links"])
@answers(PublicBooking, media=(JSON, CALENDAR))
def manage_booking():
    tenant_id, booking_id, nonce = _signer().read(_token())
    public_limits.take(_counts(tenant_id, LINKS_SCOPE, None, write=False))
    booking = bookings.get_booking(tenant_id, booking_id)
    if booking.manage_nonce != nonce:
        raise bookings.LinkUsed("this link was already used; ask for a new one")
    if _query("format") == "ics":
        return _calendar(feeds.booking_ics(booking), f"{booking.id}.ics", "no-store")
    return json_response(app, _public_booking(booking))


@app.post(f"{LINKS}/cancel", summary="Cancel through a manage link", tags=["links"])
@answers(PublicBooking)
@accepts(LinkCancel)
def cancel_by_link():
    body = parse_body(app, LinkCancel)
    tenant_id, booking_id, nonce = _signer().read(body.token)
    visitor = Actor(kind="system", key_id="manage-link")
    booking = bookings.cancel_booking(
        tenant_id,
        booking_id,
        visitor,
        reason=body.reason,
        by="visitor",
        nonce=nonce,
        counted=_counts(tenant_id, LINKS_SCOPE, None, write=True),
    )
    return json_response(app, _public_booking(booking))


@app.post(f"{LINKS}/reschedule", summary="Move through a manage link", tags=["links"])
@answers(PublicBooking)
@accepts(LinkReschedule)
def reschedule_by_link():
    body = parse_body(app, LinkReschedule)
    tenant_id, booking_id, nonce = _signer().read(body.token)
    visitor = Actor(kind="system", key_id="manage-link")
    counted = _counts(tenant_id, LINKS_SCOPE, None, write=True)
    booking = bookings.reschedule_booking(
        tenant_id, booking_id, body.start, visitor, nonce=nonce, counted=counted
    )
    return json_response(app, _public_booking(booking))


@app.get(
    "/v1/public/calendars/<tenantId>/<resourceId>",
    summary="A resource's bookings as an ICS feed (token)",
    tags=["links"],
)
@answers(media=CALENDAR)
def calendar_feed(tenantId: str, resourceId: str):
    check_path_ids({"tenantId": tenantId, "resourceId": resourceId})
    token = _token()
    # Per client address and resource, before the token is checked: guessing tokens is as
    # slow as the limit, and a calendar app polling (hours apart) never comes near it.
    public_limits.take(_counts(tenantId, f"feed-{resourceId}", None, write=False))
    text = feeds.feed_ics(tenantId, resourceId, token)
    # Calendar apps poll feeds (Google: hours apart); 5 minutes spares us their bursts.
    return _calendar(text, f"{resourceId}.ics", "private, max-age=300")


def _calendar(text: str, name: str, cache_control: str) -> Response:
    headers = {
        "Cache-Control": cache_control,
        "Content-Disposition": f'inline; filename="{name}"',
    }
    return Response(
        status_code=200, content_type=f"{CALENDAR}; charset=utf-8", body=text, headers=headers
    )


handler = api_handler(app, SchedulingApiSettings)
