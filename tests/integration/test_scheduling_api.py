"""Scheduling through its real handler and the template's routes: the tenant's API, the
widget's routes with a publishable key, manage links, the ICS feed, busy-time import, bad
input, tenant isolation, events in the audit queue, and AWS calls per booking."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduling.logic import clock
from tests.integration import harness as h

S = h.SCHEDULING
NOW = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
WEEKLY = {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def setup(tenant: Callable[..., h.Tenant]) -> dict[str, Any]:
    clock.set_now(lambda: NOW)
    owner = tenant()
    agent = owner.agent(enabled_tools=["knowledge", "booking"])
    resource = h.api(
        S,
        "POST",
        "/v1/scheduling/resources",
        {"name": "Dr. Park", "time_zone": "Europe/Berlin", "weekly": WEEKLY},
        caller=owner.owner,
    )
    assert resource.status == 201, resource
    event_type = h.api(
        S,
        "POST",
        "/v1/scheduling/event-types",
        {
            "agent_id": agent["id"],
            "resource_id": resource.json["id"],
            "name": "Check-up",
            "duration_minutes": 30,
            "min_notice_minutes": 60,
            "horizon_days": 30,
        },
        caller=owner.owner,
    )
    assert event_type.status == 201, event_type
    return {
        "tenant": owner,
        "agent": agent,
        "resource": resource.json,
        "event_type": event_type.json,
    }


def _book(setup: dict[str, Any], start: str, **extra: Any) -> h.HttpResponse:
    body = {
        "event_type_id": setup["event_type"]["id"],
        "start": start,
        "name": "Sam Lee",
        "email": "sam@example.com",
        "time_zone": "America/New_York",
        **extra,
    }
    # the sample event carries an Idempotency-Key; each booking here is a new request
    return h.api(
        S,
        "POST",
        "/v1/bookings",
        body,
        caller=setup["tenant"].owner,
        headers={"Idempotency-Key": None},
    )


def test_slots_are_listed_in_the_visitors_zone_and_a_booking_removes_its_slot(
    setup: dict[str, Any],
) -> None:
    path = f"/v1/scheduling/event-types/{setup['event_type']['id']}/slots"
    query = {"from": "2031-03-03", "to": "2031-03-03", "time_zone": "America/New_York"}
    before = h.api(S, "GET", path, query=query, caller=setup["tenant"].owner)
    assert before.status == 200, before
    first = before.json["slots"][0]
    # 09:00 in Berlin is 03:00 in New York (both on standard time on 3 March)
    assert first["start"] == "2031-03-03T03:00:00-05:00"
    assert first["start_utc"] == "2031-03-03T08:00:00Z"
    booked = _book(setup, first["start"])
    assert booked.status == 201, booked
    assert booked.json["status"] == "confirmed"
    after = h.api(S, "GET", path, query=query, caller=setup["tenant"].owner)
    assert first["start"] not in [s["start"] for s in after.json["slots"]]


def test_a_booking_costs_one_transaction_and_no_eventbridge_call(
    setup: dict[str, Any], aws_calls: h.CallLog, published: h.PublishedEvents
) -> None:
    _book(setup, "2031-03-03T10:00:00+01:00")  # warm: config and busy times cached
    aws_calls.clear()
    response = _book(setup, "2031-03-03T11:00:00+01:00")
    assert response.status == 201
    print(f"\nAWS calls per booking (warm): {aws_calls.calls}")
    assert aws_calls.calls == [("dynamodb", "TransactWriteItems")]
    assert aws_calls.of("events") == []
    events = published.of(setup["tenant"].id, "BookingConfirmed")
    assert len(events) == 2
    data = events[-1]["detail"]["data"]
    assert data["booking_id"] == response.json["id"]
    assert "visitor_email" not in data and "sam@example.com" not in str(events[-1])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"start": "2031-03-03T10:07:00+01:00"}, 422, "invalid_start"),  # off the 5-min grid
        ({"start": "2031-03-03T10:10:00+01:00"}, 422, "invalid_start"),  # off the slot grid
        ({"start": "2031-02-27T10:00:00+01:00"}, 422, "invalid_start"),  # in the past
        ({"start": "2031-05-05T10:00:00+01:00"}, 422, "invalid_start"),  # beyond the horizon
        ({"start": "2031-03-03T10:00:00"}, 422, "validation_failed"),  # no offset
        ({"time_zone": "Mars/Olympus"}, 422, "validation_failed"),
        ({"email": "not-an-email"}, 422, "validation_failed"),
        ({"event_type_id": "et_missing"}, 404, "not_found"),
    ],
)
def test_bad_bookings_get_a_clear_4xx_and_write_nothing(
    setup: dict[str, Any], body: dict[str, Any], status: int, code: str
) -> None:
    fields = {"start": "2031-03-03T10:00:00+01:00", **body}
    response = _book(setup, **fields)
    assert (response.status, response.error_code) == (status, code), response
    listed = h.api(
        S,
        "GET",
        "/v1/bookings",
        query={"resource_id": setup["resource"]["id"], "from": "2031-02-01", "to": "2031-02-28"},
        caller=setup["tenant"].owner,
    )
    assert listed.json["items"] == []


def test_bad_schedules_and_event_types_are_refused(setup: dict[str, Any]) -> None:
    owner = setup["tenant"].owner
    overlapping = {"mon": [{"start": "09:00", "end": "12:00"}, {"start": "11:30", "end": "13:00"}]}
    response = h.api(
        S,
        "POST",
        "/v1/scheduling/resources",
        {"name": "Room", "time_zone": "UTC", "weekly": overlapping},
        caller=owner,
    )
    assert (response.status, response.error_code) == (422, "validation_failed")
    too_long = {
        "agent_id": setup["agent"]["id"],
        "resource_id": setup["resource"]["id"],
        "name": "Marathon",
        "duration_minutes": 360,
        "buffer_after_minutes": 30,
    }
    response = h.api(S, "POST", "/v1/scheduling/event-types", too_long, caller=owner)
    assert (response.status, response.error_code) == (422, "validation_failed")
    seats = {**too_long, "duration_minutes": 60, "buffer_after_minutes": 0, "seats": 500}
    response = h.api(S, "POST", "/v1/scheduling/event-types", seats, caller=owner)
    assert response.status == 422


def test_another_tenants_ids_are_not_found_on_every_route(
    setup: dict[str, Any], tenant: Callable[..., h.Tenant]
) -> None:
    booking = _book(setup, "2031-03-03T10:00:00+01:00").json
    other = tenant("Other Co").owner
    rs, et, bk = setup["resource"]["id"], setup["event_type"]["id"], booking["id"]
    for method, path, body in [
        ("GET", f"/v1/scheduling/resources/{rs}", None),
        ("PATCH", f"/v1/scheduling/resources/{rs}", {"version": 1, "name": "x"}),
        ("DELETE", f"/v1/scheduling/resources/{rs}", None),
        ("GET", f"/v1/scheduling/event-types/{et}", None),
        ("GET", f"/v1/scheduling/event-types/{et}/slots", None),
        ("GET", f"/v1/bookings/{bk}", None),
        ("POST", f"/v1/bookings/{bk}/cancel", {"reason": "x"}),
        ("POST", f"/v1/bookings/{bk}/reschedule", {"start": "2031-03-04T10:00:00+01:00"}),
        ("POST", f"/v1/bookings/{bk}/confirm", {}),
    ]:
        response = h.api(S, method, path, body, caller=other)
        assert response.status == 404, (method, path, response)
    still = h.api(S, "GET", f"/v1/bookings/{bk}", caller=setup["tenant"].owner)
    assert still.json["status"] == "confirmed"


def test_the_widget_books_with_its_publishable_key_and_manages_with_a_single_use_link(
    setup: dict[str, Any],
) -> None:
    owner = setup["tenant"]
    agent_id = setup["agent"]["id"]
    key = owner.widget_key(agent_id)
    origin = h.ALLOWED_ORIGIN
    types = h.gateway("GET", f"/v1/public/agents/{agent_id}/event-types", key=key, origin=origin)
    assert types.status == 200, types
    assert types.headers["Access-Control-Allow-Origin"] == origin
    et = types.json["items"][0]["id"]
    slots = h.gateway(
        "GET",
        f"/v1/public/agents/{agent_id}/event-types/{et}/slots",
        key=key,
        origin=origin,
        query={"from": "2031-03-04", "to": "2031-03-04", "time_zone": "Asia/Kolkata"},
    )
    assert slots.status == 200, slots
    start = slots.json["slots"][2]["start"]
    assert start.endswith("+05:30")
    body = {"event_type_id": et, "start": start, "name": "Ravi", "email": "ravi@example.com"}
    headers = {"Idempotency-Key": "widget-1"}
    path = f"/v1/public/agents/{agent_id}/bookings"
    booked = h.gateway("POST", path, body, key=key, origin=origin, headers=headers)
    assert booked.status == 201, booked
    replay = h.gateway("POST", path, body, key=key, origin=origin, headers=headers)
    assert replay.status == 200 and replay.json["id"] == booked.json["id"]
    token = booked.json["manage_token"]
    # the link shows the booking, gives an .ics, moves it once, and then is used up
    shown = h.api(S, "GET", "/v1/public/bookings/manage", query={"token": token})
    assert shown.status == 200 and shown.json["id"] == booked.json["id"]
    ics = h.api(S, "GET", "/v1/public/bookings/manage", query={"token": token, "format": "ics"})
    assert ics.headers["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.body and "DTSTART:20310304T" in ics.body
    later = slots.json["slots"][4]["start"]
    moved = h.api(S, "POST", "/v1/public/bookings/reschedule", {"token": token, "start": later})
    assert moved.status == 200, moved
    again = h.api(S, "POST", "/v1/public/bookings/cancel", {"token": token})
    assert (again.status, again.error_code) == (410, "link_used")
    cancelled = h.api(
        S, "POST", "/v1/public/bookings/cancel", {"token": moved.json["manage_token"]}
    )
    assert cancelled.json["status"] == "cancelled"
    forged = h.api(S, "POST", "/v1/public/bookings/cancel", {"token": token[:-4] + "AAAA"})
    assert forged.status == 404


def test_another_agents_event_types_are_not_offered_to_a_widget(
    setup: dict[str, Any],
) -> None:
    owner = setup["tenant"]
    other_agent = owner.agent(name="Sales")
    key = owner.widget_key(other_agent["id"])
    et = setup["event_type"]["id"]
    response = h.gateway(
        "GET",
        f"/v1/public/agents/{other_agent['id']}/event-types/{et}/slots",
        key=key,
        origin=h.ALLOWED_ORIGIN,
    )
    assert response.status == 404


def test_a_paid_event_type_holds_and_a_tenant_cancel_reports_the_refund(
    setup: dict[str, Any], published: h.PublishedEvents
) -> None:
    owner = setup["tenant"].owner
    et = setup["event_type"]
    changed = h.api(
        S,
        "PATCH",
        f"/v1/scheduling/event-types/{et['id']}",
        {
            "version": et["version"],
            "price": {"amount_minor": 4500, "currency": "eur"},
            "refund_policy": {
                "kind": "tiered",
                "tiers": [{"min_notice_hours": 48, "percent": 100}],
            },
        },
        caller=owner,
    )
    assert changed.status == 200, changed
    held = _book(setup, "2031-03-03T10:00:00+01:00")
    assert held.json["status"] == "held" and held.json["hold_expires_at"]
    refused = h.api(S, "POST", f"/v1/bookings/{held.json['id']}/confirm", {}, caller=owner)
    assert refused.status == 200  # a tenant may confirm a hold by hand (paid at the desk)
    cancelled = h.api(
        S, "POST", f"/v1/bookings/{held.json['id']}/cancel", {"reason": "ill"}, caller=owner
    )
    assert cancelled.json["status"] == "cancelled"
    event = published.of(setup["tenant"].id, "BookingCancelled")[-1]["detail"]["data"]
    assert event["refund_percent"] == 100 and event["paid"] is True
    assert published.of(setup["tenant"].id, "BookingHeld")


class _Calendar(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def calendar_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Calendar)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/busy.ics"
    server.shutdown()


def test_busy_times_imported_from_an_ics_url_block_slots_and_the_feed_lists_bookings(
    setup: dict[str, Any], calendar_server: str, reconfigure: Callable[..., None]
) -> None:
    reconfigure(ALLOW_PRIVATE_URLS="true")  # the local server is on 127.0.0.1
    clock.set_now(lambda: NOW)
    owner = setup["tenant"].owner
    rs = setup["resource"]
    _Calendar.body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        b"BEGIN:VEVENT\r\nUID:x@t\r\nDTSTAMP:20310101T000000Z\r\n"
        b"DTSTART:20310303T090000Z\r\nDTEND:20310303T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n"
        b"SUMMARY:Surgery\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    h.api(
        S,
        "PATCH",
        f"/v1/scheduling/resources/{rs['id']}",
        {"version": rs["version"], "busy_ics_url": calendar_server},
        caller=owner,
    )
    synced = h.api(S, "POST", f"/v1/scheduling/resources/{rs['id']}/busy-sync", caller=owner)
    assert synced.status == 200 and synced.json == {**synced.json, "busy": 3, "error": None}
    slots = h.api(
        S,
        "GET",
        f"/v1/scheduling/event-types/{setup['event_type']['id']}/slots",
        query={"from": "2031-03-04", "to": "2031-03-04", "time_zone": "UTC"},
        caller=owner,
    )
    starts = [s["start_utc"] for s in slots.json["slots"]]
    assert "2031-03-04T08:30:00Z" in starts
    assert not {"2031-03-04T09:00:00Z", "2031-03-04T09:30:00Z"} & set(starts)
    refused = _book(setup, "2031-03-04T10:00:00+01:00")  # 09:00Z, busy
    assert refused.status == 409
    # the feed, with its token, lists the live bookings for calendar apps
    _book(setup, "2031-03-04T12:00:00+01:00")
    feed = h.api(S, "POST", f"/v1/scheduling/resources/{rs['id']}/feed", caller=owner)
    token = feed.json["token"]
    path = f"/v1/public/calendars/{setup['tenant'].id}/{rs['id']}"
    ics = h.api(S, "GET", path, query={"token": token})
    assert ics.status == 200 and ics.body.count("BEGIN:VEVENT") == 1
    assert "DTSTART:20310304T110000Z" in ics.body
    assert h.api(S, "GET", path, query={"token": "wrong-token-0123456789"}).status == 404
    h.api(S, "POST", f"/v1/scheduling/resources/{rs['id']}/feed", caller=owner)  # rotated
    assert h.api(S, "GET", path, query={"token": token}).status == 404


def test_the_holds_job_releases_expired_holds(setup: dict[str, Any]) -> None:
    owner = setup["tenant"].owner
    held = _book(setup, "2031-03-03T10:00:00+01:00", hold=True).json
    assert held["status"] == "held"
    clock.set_now(lambda: NOW + timedelta(minutes=16))
    result = h.invoke("scheduling.handlers.job_expire_holds", {})
    assert result == {"released": 1}
    after = h.api(S, "GET", f"/v1/bookings/{held['id']}", caller=owner)
    assert after.json["status"] == "expired"
