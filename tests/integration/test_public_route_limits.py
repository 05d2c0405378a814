"""Scheduling's and payments' public routes (the widget's, with a publishable key, and the
visitor's manage links) are limited per client address and per publishable key: a burst is
refused with 429, its scope and Retry-After, and writes nothing; a visitor at a normal pace
is never refused; a write counts in its own transaction."""

from __future__ import annotations

from typing import Any

import pytest

from agenthub import public_limits
from scheduling.logic import clock
from tests.integration import harness as h
from tests.integration.stripe_world import Stripe
from tests.integration.test_payment_bookings import (  # noqa: F401 - payments' fixtures
    _checkout,
    _hold,
    _next_slot,
    clinic,
    scheduling_clock,
)
from tests.integration.test_scheduling_api import (  # noqa: F401 - scheduling's fixture
    NOW,
    setup,
)

ORIGIN = h.ALLOWED_ORIGIN
SCRIPT = "198.51.100.7"
DAY = "2031-03-04"  # a Tuesday inside the scheduling fixture's horizon


@pytest.fixture
def frozen_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_limits, "now", lambda: 1_800_000_030.0)


@pytest.fixture
def limits(reconfigure) -> Any:
    """``reconfigure`` the limits; the scheduling fixture's clock stays (a reset puts the
    system clock back)."""

    def apply(**variables: str) -> None:
        reconfigure(**variables)
        clock.set_now(lambda: NOW)

    return apply


def assert_refused(response: h.HttpResponse, scope: str, limit: int) -> None:
    assert (response.status, response.error_code) == (429, "too_many_requests"), response
    details = {"scope": scope, "limit": limit, "window_seconds": 60}
    assert response.json["error"]["details"] == details
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


class Widget:
    """The scheduling fixture's agent as a visitor's browser reaches it."""

    def __init__(self, fixture: dict[str, Any]) -> None:
        self.agent_id = fixture["agent"]["id"]
        self.event_type_id = fixture["event_type"]["id"]
        self.resource_id = fixture["resource"]["id"]
        self.tenant: h.Tenant = fixture["tenant"]
        self.key = self.tenant.widget_key(self.agent_id)

    def get(self, path: str, address: str, **query: str) -> h.HttpResponse:
        return h.gateway(
            "GET",
            f"/v1/public/agents/{self.agent_id}{path}",
            key=self.key,
            origin=ORIGIN,
            query=query or None,
            client_address=address,
        )

    def slots(self, address: str, day: str = DAY) -> h.HttpResponse:
        path = f"/event-types/{self.event_type_id}/slots"
        return self.get(path, address, **{"from": day, "to": day, "time_zone": "UTC"})

    def book(self, address: str, start: str) -> h.HttpResponse:
        body = {"event_type_id": self.event_type_id, "start": start, "name": "Ravi"}
        body["email"] = "ravi@example.com"
        return h.gateway(
            "POST",
            f"/v1/public/agents/{self.agent_id}/bookings",
            body,
            key=self.key,
            origin=ORIGIN,
            client_address=address,
        )

    def bookings(self) -> list[dict[str, Any]]:
        listed = h.api(
            h.SCHEDULING,
            "GET",
            "/v1/bookings",
            query={"resource_id": self.resource_id, "from": DAY, "to": DAY},
            caller=self.tenant.owner,
        )
        items: list[dict[str, Any]] = listed.json["items"]
        return items


@pytest.fixture
def widget(setup: dict[str, Any]) -> Widget:  # noqa: F811 - the imported fixture
    return Widget(setup)


def test_reads_from_one_client_address_are_limited_and_other_addresses_are_not(
    widget: Widget, limits, frozen_window
):
    # Given 3 public reads a minute per client address
    limits(PUBLIC_READS_PER_CLIENT="3")
    assert widget.get("/event-types", SCRIPT).status == 200
    for _ in range(2):
        assert widget.slots(SCRIPT).status == 200
    # When the same address reads a fourth time (slots or event types alike)
    # Then it is refused with its wait, and another visitor is not
    assert_refused(widget.slots(SCRIPT), "client", 3)
    assert_refused(widget.get("/event-types", SCRIPT), "client", 3)
    assert widget.slots("203.0.113.9").status == 200


def test_reads_with_one_publishable_key_are_limited_across_addresses(
    widget: Widget, limits, frozen_window
):
    limits(PUBLIC_READS_PER_KEY="3")
    for n in range(3):
        assert widget.slots(f"198.51.100.{n}").status == 200
    assert_refused(widget.slots("198.51.100.99"), "key", 3)


def test_widget_bookings_from_one_address_are_limited_and_a_refused_one_writes_nothing(
    widget: Widget, limits, frozen_window, aws_calls: h.CallLog
):
    # Given 2 bookings a minute per client address, and a script taking slot after slot
    limits(PUBLIC_WRITES_PER_CLIENT="2")
    starts = [s["start"] for s in widget.slots("203.0.113.1").json["slots"]]
    aws_calls.clear()
    first = widget.book(SCRIPT, starts[0])
    # (the counters ride in the booking's own transaction: no extra call)
    assert aws_calls.of("dynamodb").count("TransactWriteItems") == 1
    second = widget.book(SCRIPT, starts[1])
    assert (first.status, second.status) == (201, 201)
    # When it books a third
    refused = widget.book(SCRIPT, starts[2])
    # Then it is refused, the slot stays free, and another visitor still books
    assert_refused(refused, "client", 2)
    booked = {b["id"] for b in widget.bookings()}
    assert booked == {first.json["id"], second.json["id"]}
    assert widget.book("203.0.113.9", starts[2]).status == 201


def test_manage_links_are_limited_per_client_address(widget: Widget, limits, frozen_window):
    limits(PUBLIC_READS_PER_CLIENT="2", PUBLIC_WRITES_PER_CLIENT="1")
    starts = [s["start"] for s in widget.slots("203.0.113.1").json["slots"]]
    tokens = [widget.book(f"203.0.113.{n}", starts[n]).json["manage_token"] for n in (2, 3)]

    def manage(address: str) -> h.HttpResponse:
        query = {"token": tokens[0]}
        path = "/v1/public/bookings/manage"
        return h.gateway("GET", path, query=query, origin=ORIGIN, client_address=address)

    assert manage(SCRIPT).status == 200
    assert manage(SCRIPT).status == 200
    assert_refused(manage(SCRIPT), "client", 2)
    assert manage("203.0.113.9").status == 200
    path = "/v1/public/bookings/cancel"
    for token, status in ((tokens[0], 200), (tokens[1], 429)):
        cancel = h.gateway("POST", path, {"token": token}, origin=ORIGIN, client_address=SCRIPT)
        assert cancel.status == status, cancel
    assert_refused(cancel, "client", 1)
    statuses = {b["status"] for b in widget.bookings()}
    assert statuses == {"cancelled", "confirmed"}  # the refused cancel changed nothing


def test_calendar_feed_reads_are_limited_per_client_address_and_resource(
    widget: Widget, limits, frozen_window
):
    # Given 2 public reads a minute per client address, and a resource's feed
    limits(PUBLIC_READS_PER_CLIENT="2")
    resource = f"/v1/scheduling/resources/{widget.resource_id}/feed"
    token = h.api(h.SCHEDULING, "POST", resource, caller=widget.tenant.owner).json["token"]
    path = f"/v1/public/calendars/{widget.tenant.id}/{widget.resource_id}"

    def feed(address: str, token: str = token) -> h.HttpResponse:
        return h.gateway("GET", path, query={"token": token}, client_address=address)

    # When one address guesses a token, then reads the feed twice
    assert feed(SCRIPT, "guessed-token-0123456789").status == 404
    assert feed(SCRIPT).status == 200
    # Then its third read in the window is refused (guesses count as reads), another is not
    refused = feed(SCRIPT)
    assert (refused.status, refused.error_code) == (429, "too_many_requests"), refused
    assert refused.json["error"]["details"]["scope"] == "client"
    assert refused.headers["Retry-After"] == "30"
    assert feed("203.0.113.9").status == 200


def test_a_visitor_browsing_and_booking_at_a_normal_pace_is_not_limited(widget: Widget):
    # (the deployed limits: a visitor looks at a few days, books, opens the link twice)
    visitor = "203.0.113.50"
    assert widget.get("/event-types", visitor).status == 200
    for day in ("2031-03-04", "2031-03-05", "2031-03-06", "2031-03-07") * 3:
        assert widget.slots(visitor, day).status == 200
    start = widget.slots(visitor).json["slots"][0]["start"]
    booked = widget.book(visitor, start)
    assert booked.status == 201, booked
    query = {"token": booked.json["manage_token"]}
    for _ in range(2):
        shown = h.gateway("GET", "/v1/public/bookings/manage", query=query, client_address=visitor)
        assert shown.status == 200, shown


def test_a_checkout_burst_is_refused_before_stripe_is_called(
    clinic: dict[str, Any],  # noqa: F811 - the imported fixture
    stripe: Stripe,
    reconfigure,
    frozen_window,
):
    # Given 2 checkouts a minute per client address, and three held bookings
    reconfigure(PUBLIC_WRITES_PER_CLIENT="2")
    held = [_hold(clinic, _next_slot(days)) for days in (3, 4, 5)]
    assert _checkout(clinic, held[0]["id"]).status == 201
    assert _checkout(clinic, held[1]["id"]).status == 201
    sessions = stripe.fake.count_requests("POST", "/v1/checkout/sessions")
    # When the same address asks for a third
    refused = _checkout(clinic, held[2]["id"])
    # Then it is refused and Stripe never heard of it; the payment status reads still work
    assert (refused.status, refused.json["error"]["details"]["scope"]) == (429, "client")
    assert refused.headers["Retry-After"] == "30"
    assert stripe.fake.count_requests("POST", "/v1/checkout/sessions") == sessions


def test_payment_status_reads_with_one_publishable_key_are_limited(
    clinic: dict[str, Any],  # noqa: F811 - the imported fixture
    stripe: Stripe,
    reconfigure,
    frozen_window,
):
    reconfigure(PUBLIC_READS_PER_KEY="2")
    payment = _checkout(clinic, _hold(clinic, _next_slot())["id"]).json
    path = f"/v1/public/agents/{clinic['agent']['id']}/payments/{payment['payment_id']}"
    for n in range(2):
        answer = h.gateway(
            "GET", path, key=clinic["widget"], origin=ORIGIN, client_address=f"198.51.100.{n}"
        )
        assert answer.status == 200, answer
    refused = h.gateway("GET", path, key=clinic["widget"], origin=ORIGIN, client_address=SCRIPT)
    assert_refused(refused, "key", 2)
