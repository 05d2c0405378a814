"""The conversation offers booking: a visitor who asks to book gets, beside the answer, the
agent's event types with their next open times (scheduling's ``booking_offer``); a question
without that wish costs no read of scheduling's items; another agent's event types are never
offered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from scheduling.logic import clock
from tests.integration import harness as h
from tests.integration.harness import api
from tests.integration.test_conversations import CONVERSATIONS, Clinic, make_clinic

S = h.SCHEDULING
NOW = datetime(2031, 3, 3, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Berlin
WEEKLY = {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}


def _event_type(owner: h.Principal, agent_id: str, resource_id: str, **fields: Any) -> dict:
    body = {"agent_id": agent_id, "resource_id": resource_id, "duration_minutes": 30, **fields}
    created = h.api(S, "POST", "/v1/scheduling/event-types", body, caller=owner)
    assert created.status == 201, created
    return created.json


@pytest.fixture
def clinic(aws: h.World, tenant: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clinic]:
    # the scheduling clock (each invocation's environment reset puts the system one back)
    monkeypatch.setattr(clock, "_system_now", lambda: NOW)
    clock.reset()
    clinic = make_clinic(aws, tenant("Acme Booking"))
    owner = clinic.tenant.owner
    resource = h.api(
        S,
        "POST",
        "/v1/scheduling/resources",
        {"name": "Dr. Park", "time_zone": "Europe/Berlin", "weekly": WEEKLY},
        caller=owner,
    )
    assert resource.status == 201, resource
    agent_id = clinic.agent["id"]
    _event_type(owner, agent_id, resource.json["id"], name="Check-up")
    price = {"amount_minor": 5000, "currency": "eur"}
    _event_type(owner, agent_id, resource.json["id"], name="Whitening", price=price)
    # another agent of the same tenant, with an event type of its own
    other = clinic.tenant.agent(name="Other desk")
    _event_type(owner, other["id"], resource.json["id"], name="Not this agent's")
    yield clinic
    monkeypatch.undo()
    clock.reset()


def _ask(clinic: Clinic, text: str) -> dict[str, Any]:
    conversation_id, token = clinic.begin()
    response = clinic.ask(conversation_id, token, text)
    assert response.status == 201, response
    return response.json


def test_a_visitor_who_asks_to_book_gets_the_event_types_and_their_next_times(
    clinic: Clinic,
) -> None:
    # When a visitor asks to book
    data = _ask(clinic, "Can I book an appointment for next week?")
    # Then the answer is there, and beside it the agent's event types with open times
    assert data["answer"]["text"]
    [offer] = data["actions"]
    assert offer["type"] == "booking"
    names = [e["name"] for e in offer["event_types"]]
    assert names == ["Check-up", "Whitening"]  # not the other agent's
    checkup, whitening = offer["event_types"]
    assert checkup["price"] is None and checkup["duration_minutes"] == 30
    assert whitening["price"] == {"amount_minor": 5000, "currency": "eur"}
    # the next open times in UTC: 10:00 Berlin is the first start after the hour's notice
    starts = [s["start_utc"] for s in checkup["next_slots"]]
    assert starts == [
        "2031-03-03T09:00:00Z",
        "2031-03-03T09:30:00Z",
        "2031-03-03T10:00:00Z",
        "2031-03-03T10:30:00Z",
    ]
    assert checkup["next_slots"][0]["end_utc"] == "2031-03-03T09:30:00Z"


@pytest.mark.parametrize(
    "text",
    ["Ich möchte einen Termin vereinbaren", "I'd like to schedule a visit", "¿Puedo reservar?"],
)
def test_the_wish_to_book_is_understood_in_the_widgets_languages(clinic: Clinic, text: str) -> None:
    assert [a["type"] for a in _ask(clinic, text)["actions"]] == ["booking"]


def test_a_question_without_the_wish_to_book_offers_nothing_and_reads_nothing_more(
    clinic: Clinic, aws_calls: Any
) -> None:
    # Given a warm environment
    conversation_id, token = clinic.begin()
    assert clinic.ask(conversation_id, token, "Do you accept bank transfers?").status == 201
    # When a question about the schedule (a noun, not a wish to book) is asked
    aws_calls.clear()
    response = api(
        CONVERSATIONS,
        "POST",
        f"{clinic.public}/{conversation_id}/messages",
        {"text": "What is your schedule on Saturday?", "visitor_token": token},
        caller=clinic.widget,
        headers={"Origin": h.ALLOWED_ORIGIN},
    )
    # Then no offer, and the message costs what it always did
    assert response.status == 201, response
    assert response.json["actions"] == []
    assert aws_calls.calls == [("dynamodb", "BatchGetItem"), ("dynamodb", "TransactWriteItems")]


def test_an_agent_without_event_types_offers_nothing(aws: h.World, tenant: Any) -> None:
    clinic = make_clinic(aws, tenant("Acme No Booking"))
    assert _ask(clinic, "Can I book an appointment?")["actions"] == []
