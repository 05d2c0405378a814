"""Scheduling end to end over HTTP through the local gateway: a tenant sets up a resource and
an event type, the widget (publishable key, allowed Origin) lists slots in the visitor's
zone and books one, twenty simultaneous bookings of one slot make exactly one, the manage
link gives an .ics and works once, the holds job fires on demand, and the resource's feed
lists the booking."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api, assert_error
from tests.e2e.support import bearer

pytestmark = pytest.mark.slow

ORIGIN = "https://clinic.example"
WEEKLY = {
    d: [{"start": "00:00", "end": "24:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def test_a_visitor_books_a_slot_and_manages_it_through_the_gateway(runtime: LocalRuntime) -> None:
    api = Api(runtime)
    tenant = api.new_tenant("Harbour Physio")
    owner = tenant.owner_key
    agent = api.new_agent(owner, name="Desk", allowed_origins=[ORIGIN])
    key = api.ok("POST", "/v1/publishable-keys", owner, json={"agent_id": agent["id"]})["secret"]
    resource = api.ok(
        "POST",
        "/v1/scheduling/resources",
        owner,
        json={"name": "Room 1", "time_zone": "Europe/Lisbon", "weekly": WEEKLY},
    )
    event_type = api.ok(
        "POST",
        "/v1/scheduling/event-types",
        owner,
        json={
            "agent_id": agent["id"],
            "resource_id": resource["id"],
            "name": "Assessment",
            "duration_minutes": 45,
            "slot_interval_minutes": 60,
            "min_notice_minutes": 60,
        },
    )
    widget = {**bearer(key), "Origin": ORIGIN}
    base = f"/v1/public/agents/{agent['id']}"
    listed = api.call("GET", f"{base}/event-types", headers=widget)
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["items"]] == [event_type["id"]]
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    slots = api.call(
        "GET",
        f"{base}/event-types/{event_type['id']}/slots",
        headers=widget,
        params={"from": day, "to": day, "time_zone": "America/Sao_Paulo"},
    )
    assert slots.status_code == 200, slots.text
    assert slots.headers["Access-Control-Allow-Origin"] == ORIGIN
    offered = slots.json()["slots"]
    assert offered and all(s["start"].endswith("-03:00") for s in offered)

    def book(start: str) -> int:
        body = {
            "event_type_id": event_type["id"],
            "start": start,
            "name": "Ana",
            "email": "ana@example.com",
            "time_zone": "America/Sao_Paulo",
        }
        url = runtime.api_url + f"{base}/bookings"
        return requests.post(url, json=body, headers=widget, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(book, [offered[5]["start"]] * 20))
    assert sorted(statuses) == [201] + [409] * 19
    booked = api.ok(
        "GET", "/v1/bookings", owner, params={"resource_id": resource["id"], "from": day, "to": day}
    )["items"]
    assert len(booked) == 1 and booked[0]["status"] == "confirmed"

    made = api.call(
        "POST",
        f"{base}/bookings",
        headers={**widget, "Idempotency-Key": "e2e-1"},
        json={
            "event_type_id": event_type["id"],
            "start": offered[8]["start"],
            "name": "Bea",
            "email": "bea@example.com",
        },
    )
    assert made.status_code == 201, made.text
    token = made.json()["manage_token"]
    ics = api.call("GET", "/v1/public/bookings/manage", params={"token": token, "format": "ics"})
    assert ics.headers["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text
    cancelled = api.call("POST", "/v1/public/bookings/cancel", json={"token": token})
    assert cancelled.json()["status"] == "cancelled"
    assert_error(
        api.call("POST", "/v1/public/bookings/cancel", json={"token": token}), 410, "link_used"
    )

    released = runtime.fire_schedule("SchedulingHoldsFunction", "EveryMinute")
    assert released.ok and json.loads(released.payload) == {"released": 0}
    feed = api.ok("POST", f"/v1/scheduling/resources/{resource['id']}/feed", owner)
    calendar = api.session.get(feed["feed_url"], timeout=30)
    assert calendar.status_code == 200
    assert calendar.text.count("BEGIN:VEVENT") == 1


def test_a_reminder_schedule_fires_through_the_local_poller_and_is_recorded(
    runtime: LocalRuntime,
) -> None:
    # Given a confirmed booking two days ahead (the notifier runs from the booking's event)
    from infra.local.resources import boto_client
    from tests.e2e.support import eventually

    api = Api(runtime)
    tenant = api.new_tenant("Reminder Clinic")
    owner = tenant.owner_key
    agent = api.new_agent(owner, name="Desk")
    resource = api.ok(
        "POST",
        "/v1/scheduling/resources",
        owner,
        json={"name": "Room", "time_zone": "UTC", "weekly": WEEKLY},
    )
    event_type = api.ok(
        "POST",
        "/v1/scheduling/event-types",
        owner,
        json={
            "agent_id": agent["id"],
            "resource_id": resource["id"],
            "name": "Visit",
            "duration_minutes": 30,
            "min_notice_minutes": 0,
        },
    )
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    booking = api.ok(
        "POST",
        "/v1/bookings",
        owner,
        json={
            "event_type_id": event_type["id"],
            "start": start.isoformat(),
            "name": "Ana",
            "email": "ana@example.com",
        },
    )
    path = f"/v1/bookings/{booking['id']}"
    scheduled = eventually(lambda: api.ok("GET", path, owner)["reminder"]["status"] == "scheduled")
    assert scheduled
    # When its one-time schedule comes due (moved to the past: moto never fires it itself)
    scheduler = boto_client("scheduler", runtime.moto_url)
    name = api.ok("GET", path, owner)["reminder"]["schedule_name"]
    current = scheduler.get_schedule(Name=name)
    scheduler.update_schedule(
        Name=name,
        ScheduleExpression="at(2020-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target=current["Target"],
    )
    # Then the local poller delivers it, the notifier sends it and the booking says so
    assert eventually(lambda: api.ok("GET", path, owner)["reminder"]["status"] == "sent")
    names = [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
    assert name not in names
