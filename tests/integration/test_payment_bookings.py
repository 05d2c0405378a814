"""Paid bookings: the real scheduling code (event types with a price, holds, confirm, cancel)
with the real payments handlers, under moto, against the fake Stripe.

Scheduling's clock is moved where a hold must end (its own test hook); Stripe's sessions keep
real time, as they would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration import harness
from tests.integration.stripe_world import PAYMENTS, Stripe, connected, outbox
from tests.integration.stripe_world import payment as read_payment

pytestmark = pytest.mark.usefixtures("clean_stripe")

SCHEDULING = "scheduling.handlers.api"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ORIGIN = harness.ALLOWED_ORIGIN


@pytest.fixture(autouse=True)
def scheduling_clock() -> Iterator[Any]:
    from scheduling.logic import clock

    yield clock
    clock.reset()


def _next_slot(days: int = 3) -> datetime:
    """A weekday 10:00 UTC a few days ahead (inside the resource's hours)."""
    day = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    day += timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def clinic(stripe: Stripe) -> dict[str, Any]:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[ORIGIN], enabled_tools=["knowledge", "booking"])
    owner = tenant.owner
    resource = harness.api(
        SCHEDULING,
        "POST",
        "/v1/scheduling/resources",
        {
            "name": "Dr. Park",
            "time_zone": "UTC",
            "weekly": {d: [{"start": "08:00", "end": "18:00"}] for d in WEEKDAYS},
        },
        caller=owner,
    )
    assert resource.status == 201, resource
    event_type = harness.api(
        SCHEDULING,
        "POST",
        "/v1/scheduling/event-types",
        {
            "agent_id": agent["id"],
            "resource_id": resource.json["id"],
            "name": "Whitening",
            "duration_minutes": 30,
            "min_notice_minutes": 0,
            "horizon_days": 30,
            "hold_minutes": 15,
            "price": {"amount_minor": 4500, "currency": "eur"},
            "refund_policy": {
                "kind": "tiered",
                "tiers": [
                    {"min_notice_hours": 48, "percent": 100},
                    {"min_notice_hours": 2, "percent": 50},
                ],
            },
        },
        caller=owner,
    )
    assert event_type.status == 201, event_type
    return {
        "tenant": tenant,
        "agent": agent,
        "event_type": event_type.json,
        "widget": tenant.widget_key(agent["id"]),
    }


def _hold(
    clinic: dict[str, Any], start: datetime, email: str = "sam@example.com"
) -> dict[str, Any]:
    body = {
        "event_type_id": clinic["event_type"]["id"],
        "start": start.isoformat(),
        "name": "Sam Lee",
        "email": email,
    }
    response = harness.api(
        SCHEDULING,
        "POST",
        "/v1/bookings",
        body,
        caller=clinic["tenant"].owner,
        headers={"Idempotency-Key": None},
    )
    assert response.status == 201, response
    booking: dict[str, Any] = response.json
    return booking


def _checkout(clinic: dict[str, Any], booking_id: str) -> harness.HttpResponse:
    path = f"/v1/public/agents/{clinic['agent']['id']}/bookings/{booking_id}/checkout"
    return harness.api(PAYMENTS, "POST", path, caller=clinic["widget"], headers={"Origin": ORIGIN})


def _booking(clinic: dict[str, Any], booking_id: str) -> dict[str, Any]:
    response = harness.api(
        SCHEDULING, "GET", f"/v1/bookings/{booking_id}", caller=clinic["tenant"].owner
    )
    assert response.status == 200, response
    booking: dict[str, Any] = response.json
    return booking


def _session_id(clinic: dict[str, Any], payment_id: str) -> str:
    return str(read_payment(clinic["tenant"], payment_id)["checkout_session_id"])


def test_a_held_booking_gets_one_checkout_and_only_the_webhook_confirms_it(
    stripe: Stripe, clinic: dict[str, Any], aws: harness.World
) -> None:
    # Given a visitor's hold on a paid event type
    held = _hold(clinic, _next_slot())
    assert held["status"] == "held"
    # When the widget asks for the pay step twice
    first, second = _checkout(clinic, held["id"]), _checkout(clinic, held["id"])
    # Then there is one payment and one Checkout Session, with the booking in its metadata
    assert first.status == second.status == 201, first
    assert first.json["payment_id"] == second.json["payment_id"]
    assert first.json["checkout_url"] and first.json["amount_minor"] == 4500
    sessions = stripe.fake.store.account_for_key("rk_test_tenant_0123456789abcdef").of_type(
        "checkout.session"
    )
    assert len(sessions) == 1 and sessions[0]["metadata"]["booking_id"] == held["id"]
    assert sessions[0]["customer_email"] == "sam@example.com"
    # And paying does not confirm the booking until the webhook is applied
    stripe.fake.complete_checkout(sessions[0]["id"])
    assert _booking(clinic, held["id"])["status"] == "held"
    stripe.deliver()
    booking = _booking(clinic, held["id"])
    assert booking["status"] == "confirmed"
    assert booking["payment_id"] == first.json["payment_id"]
    found = read_payment(clinic["tenant"], first.json["payment_id"])
    assert (found["status"], found["booking_outcome"]) == ("succeeded", "confirmed")
    assert [e["data"]["booking_id"] for e in outbox(aws, "PaymentSucceeded")] == [held["id"]]


def test_a_payment_after_the_slot_was_re_taken_is_refunded_and_the_visitor_told(
    stripe: Stripe, clinic: dict[str, Any], aws: harness.World, scheduling_clock: Any
) -> None:
    # Given a hold with its checkout open
    start = _next_slot()
    held = _hold(clinic, start)
    checkout = _checkout(clinic, held["id"]).json
    # When the hold ends unpaid and someone else books the slot
    later = datetime.fromisoformat(held["hold_expires_at"].replace("Z", "+00:00"))
    scheduling_clock.set_now(lambda: later + timedelta(seconds=1))
    other = _hold(clinic, start, email="kim@example.com")
    assert other["status"] == "held"
    # And the first visitor still pays (the session was still open at Stripe)
    stripe.fake.complete_checkout(_session_id(clinic, checkout["payment_id"]))
    stripe.deliver()
    # Then the booking stays unconfirmed, the money goes back in full, and the widget says so
    assert _booking(clinic, held["id"])["status"] != "confirmed"
    found = read_payment(clinic["tenant"], checkout["payment_id"])
    assert found["status"] == "refunded" and found["refunded_minor"] == 4500
    assert found["booking_outcome"] == "refunded_slot_taken"
    refunded = outbox(aws, "PaymentRefunded")
    assert [(e["data"]["reason"], e["data"]["refunded_minor"]) for e in refunded] == [
        ("slot_taken", 4500)
    ]
    view = harness.api(
        PAYMENTS,
        "GET",
        f"/v1/public/agents/{clinic['agent']['id']}/payments/{checkout['payment_id']}",
        caller=clinic["widget"],
        headers={"Origin": ORIGIN},
    ).json
    assert "refunded in full" in view["message"]
    # And a replay of the event changes nothing more
    (completed,) = stripe.fake.events("checkout.session.completed")
    stripe.fake.webhooks.replay(completed["id"], times=3)
    stripe.deliver()
    assert len(outbox(aws, "PaymentRefunded")) == 1


def test_an_unpaid_hold_is_released_only_after_its_session_is_expired_at_stripe(
    stripe: Stripe, clinic: dict[str, Any], scheduling_clock: Any
) -> None:
    from agenthub.runtime import init_function
    from payments.handlers.settings import StripeSettings
    from payments.logic import bookings

    held = _hold(clinic, _next_slot())
    checkout = _checkout(clinic, held["id"]).json
    config = init_function(StripeSettings).stripe()
    hold_end = datetime.fromisoformat(held["hold_expires_at"].replace("Z", "+00:00"))
    # Before the hold ends the job leaves it alone
    assert bookings.expire_unpaid_holds(config, now=hold_end - timedelta(minutes=1)) == {
        "expired": 0,
        "paid": 0,
        "failed": 0,
    }
    # When it runs after the hold ended
    scheduling_clock.set_now(lambda: hold_end + timedelta(seconds=5))
    counts = bookings.expire_unpaid_holds(config, now=hold_end + timedelta(seconds=5))
    # Then the session was expired at Stripe first, and then the hold released
    assert counts["expired"] == 1
    session = stripe.fake.store.find(_session_id(clinic, checkout["payment_id"]))
    assert session is not None and session[1]["status"] == "expired"
    assert _booking(clinic, held["id"])["status"] in ("expired", "cancelled")
    found = read_payment(clinic["tenant"], checkout["payment_id"])
    assert (found["status"], found["booking_outcome"]) == ("expired", "released")
    # And the visitor can no longer pay; the expired event changes nothing more
    with pytest.raises(Exception, match="expired"):
        stripe.fake.complete_checkout(session[1]["id"])
    stripe.deliver()
    assert read_payment(clinic["tenant"], checkout["payment_id"])["version"] == found["version"]
    assert bookings.expire_unpaid_holds(config, now=hold_end + timedelta(minutes=5))["expired"] == 0


def test_a_checkout_for_a_free_or_ended_hold_or_another_agent_is_refused(
    stripe: Stripe, clinic: dict[str, Any], scheduling_clock: Any
) -> None:
    held = _hold(clinic, _next_slot())
    other_agent = clinic["tenant"].agent(allowed_origins=[ORIGIN])
    other_widget = clinic["tenant"].widget_key(other_agent["id"])
    path = f"/v1/public/agents/{other_agent['id']}/bookings/{held['id']}/checkout"
    wrong = harness.api(PAYMENTS, "POST", path, caller=other_widget, headers={"Origin": ORIGIN})
    assert wrong.status == 404
    assert _checkout(clinic, "bk_doesnotexist").status == 404
    cancelled = harness.api(
        SCHEDULING,
        "POST",
        f"/v1/bookings/{held['id']}/cancel",
        {"reason": "changed mind"},
        caller=clinic["tenant"].owner,
    )
    assert cancelled.status == 200, cancelled
    ended = _checkout(clinic, held["id"])
    assert ended.status == 409 and ended.error_code == "hold_expired"


def test_cancelling_a_paid_booking_refunds_its_policys_share_once(
    stripe: Stripe, clinic: dict[str, Any], aws: harness.World, published: harness.PublishedEvents
) -> None:
    # Given a confirmed paid booking 3 days ahead (policy: 100% with 48 h notice)
    held = _hold(clinic, _next_slot(days=3))
    checkout = _checkout(clinic, held["id"]).json
    stripe.fake.complete_checkout(_session_id(clinic, checkout["payment_id"]))
    stripe.deliver()
    assert _booking(clinic, held["id"])["status"] == "confirmed"
    # When the tenant cancels it and the bus delivers BookingCancelled (twice)
    cancelled = harness.api(
        SCHEDULING,
        "POST",
        f"/v1/bookings/{held['id']}/cancel",
        {"reason": "clinic closed"},
        caller=clinic["tenant"].owner,
    )
    assert cancelled.status == 200, cancelled
    harness.relay_outbox(aws.table_name)
    (event,) = published.of(clinic["tenant"].id, "BookingCancelled")
    assert event["detail"]["data"]["refund_percent"] == 100
    body = json.dumps(event)
    result = harness.invoke(
        "payments.handlers.on_booking_cancelled", harness.sqs_event([body, body])
    )
    # Then the payment is refunded in full, once
    assert result["batchItemFailures"] == []
    found = read_payment(clinic["tenant"], checkout["payment_id"])
    assert found["status"] == "refunded" and found["refunded_minor"] == 4500
    reasons = [e["data"]["reason"] for e in outbox(aws, "PaymentRefunded")]
    assert reasons == ["booking_cancelled"]
