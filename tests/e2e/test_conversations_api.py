"""A visitor's conversation end to end, over HTTP through the local gateway: the widget's
publishable key from an allowed Origin starts a conversation and asks questions answered from
an ingested document, with citations; an unrelated question is answered plainly as not
covered; a wrong Origin is refused; feedback, lead capture and handoff land, and the owner
sees the conversation in the tenant's list."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api, Tenant, assert_error
from tests.e2e.support import bearer, eventually

pytestmark = pytest.mark.slow

ORIGIN = "https://clinic.example"
CLINIC = """# Appointments at Harbour Dental

Appointments can be booked online or by phone. We ask for 24 hours notice to cancel an
appointment; late cancellations are charged 30 euros.

## Opening hours

The clinic is open Monday to Friday from 8am to 7pm, and on Saturday mornings from 9am to 1pm.

## Insurance

We accept all major Dutch health insurers and send the invoice to them directly.
"""


@dataclass
class Clinic:
    api: Api
    tenant: Tenant
    agent: dict[str, Any]
    widget_key: str

    def widget(self, method: str, path: str, origin: str = ORIGIN, **kwargs: Any) -> Any:
        base = f"/v1/public/agents/{self.agent['id']}/conversations"
        headers = {**bearer(self.widget_key), "Origin": origin}
        return self.api.call(method, base + path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def clinic(runtime: LocalRuntime) -> Iterator[Clinic]:
    api = Api(runtime)
    tenant = api.new_tenant("Harbour Dental")
    agent = api.new_agent(tenant.owner_key, name="Front desk", allowed_origins=[ORIGIN])
    key = api.ok("POST", "/v1/publishable-keys", tenant.owner_key, json={"agent_id": agent["id"]})[
        "secret"
    ]
    documents = f"/v1/agents/{agent['id']}/documents"
    doc = api.ok(
        "POST", documents, tenant.owner_key, json={"source": {"type": "text", "text": CLINIC}}
    )["document"]
    eventually(
        lambda: api.ok("GET", f"{documents}/{doc['id']}", tenant.owner_key)["status"] == "indexed",
        within=90,
    )
    yield Clinic(api, tenant, agent, key)


def _start(clinic: Clinic) -> dict[str, Any]:
    started = clinic.widget("POST", "", json={})
    assert started.status_code == 201, started.text
    assert started.headers["Access-Control-Allow-Origin"] == ORIGIN
    return started.json()


def _ask(clinic: Clinic, conversation: dict[str, Any], text: str) -> dict[str, Any]:
    cid = conversation["conversation"]["id"]
    body = {"text": text, "visitor_token": conversation["visitor_token"]}
    # the index pointer is cached for a few seconds per environment: wait for the new index
    response = clinic.widget("POST", f"/{cid}/messages", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_visitor_gets_a_grounded_answer_with_a_citation(clinic: Clinic):
    conversation = _start(clinic)

    answer = eventually(
        lambda: (
            (a := _ask(clinic, conversation, "How much notice do I need to cancel?"))["answer"][
                "citations"
            ]
            and a
        ),
        within=30,
    )["answer"]

    assert "24 hours" in answer["text"]
    assert answer["citations"][0]["title"] == "Appointments at Harbour Dental"
    assert not answer.get("abstained")


def test_an_unrelated_question_is_answered_as_not_covered(clinic: Clinic):
    conversation = _start(clinic)
    _ask(clinic, conversation, "When are you open on Saturday?")  # warms the index

    answer = _ask(clinic, conversation, "What is the boiling point of tungsten?")["answer"]

    assert answer["citations"] == []
    assert answer["abstained"] is True
    assert "tungsten" not in answer["text"].lower() or "cover" in answer["text"].lower()


def test_a_wrong_origin_gets_nothing(clinic: Clinic):
    refused = clinic.widget("POST", "", origin="https://evil.example", json={})
    assert refused.status_code == 403
    assert "conversation" not in refused.text


def test_feedback_lead_and_handoff_land_and_the_owner_sees_them(clinic: Clinic):
    conversation = _start(clinic)
    cid = conversation["conversation"]["id"]
    token = conversation["visitor_token"]
    exchange = _ask(clinic, conversation, "Do you accept my health insurer?")

    feedback = clinic.widget(
        "POST",
        f"/{cid}/messages/{exchange['answer']['id']}/feedback",
        json={"rating": "up", "visitor_token": token},
    )
    bad_lead = clinic.widget(
        "POST", f"/{cid}/lead", json={"email": "not-an-email", "visitor_token": token}
    )
    lead = clinic.widget(
        "POST",
        f"/{cid}/lead",
        json={"name": "Ana", "email": "ana@example.com", "visitor_token": token},
    )
    handoff = clinic.widget("POST", f"/{cid}/handoff", json={"visitor_token": token})

    assert feedback.status_code in (200, 201), feedback.text
    assert_error(bad_lead, 422)
    assert lead.status_code in (200, 201), lead.text
    assert handoff.status_code in (200, 201), handoff.text
    listed = clinic.api.ok(
        "GET",
        f"/v1/conversations?agent_id={clinic.agent['id']}&has_lead=true&handoff=true",
        clinic.tenant.owner_key,
    )
    assert cid in [c["id"] for c in listed["items"]]


def test_another_visitors_token_does_not_open_a_conversation(clinic: Clinic):
    mine, theirs = _start(clinic), _start(clinic)
    response = clinic.widget(
        "GET",
        f"/{mine['conversation']['id']}",
        params={"visitor_token": theirs["visitor_token"]},
    )
    assert response.status_code == 404
