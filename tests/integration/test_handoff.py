"""Live handoff through the real handlers: a visitor asks for a person (widget route), someone of
the tenant's team lists open handoffs, reads the transcript and replies (secret key); the agent
stays quiet while that person holds the conversation; the worker times an unanswered handoff
out and emails the transcript (SES, in moto); the WebSocket function checks who connects and
what it follows, and replies are pushed to it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration import harness as h
from tests.integration.harness import api, gateway
from tests.integration.test_conversations import CONVERSATIONS, Clinic, events_of, make_clinic

WORKER = "conversations.handlers.on_handoff"
REALTIME = "conversations.handlers.realtime"
SENDER = "handoff@agenthub.example"
TEAM_INBOX = "frontdesk@acme.example"
ENDPOINT = "https://wsabc12345.execute-api.us-east-1.amazonaws.com/itest"
NewTenant = Callable[..., h.Tenant]


@pytest.fixture
def clinic(aws: h.World, tenant: NewTenant) -> Clinic:
    return make_clinic(
        aws,
        tenant("Acme Dental"),
        enabled_tools=["knowledge", "lead_capture", "handoff"],
        handoff={"timeout_seconds": 60, "email": TEAM_INBOX},
    )


@pytest.fixture
def worker(aws: h.World, reconfigure: Callable[..., None]) -> str:
    """The worker's queue and SES sender (verified), and a live channel endpoint; returns the
    timeout queue's URL."""
    sqs = h.aws_client("sqs")
    url: str = sqs.create_queue(QueueName="agenthub-itest-handoff-timeouts")["QueueUrl"]
    h.aws_client("sesv2").create_email_identity(EmailIdentity=SENDER)
    reconfigure(
        HANDOFF_TIMEOUT_QUEUE_URL=url, HANDOFF_SENDER_EMAIL=SENDER, REALTIME_ENDPOINT=ENDPOINT
    )
    h.take_messages(url)
    return url


def _sent_emails() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends["123456789012"][h.REGION].sent_messages)


def _widget(clinic: Clinic, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return gateway(
        method, f"{clinic.public}{path}", body, key=clinic.widget, origin=h.ALLOWED_ORIGIN
    )


def _ask_for_a_person(clinic: Clinic) -> tuple[str, str]:
    conversation_id, token = clinic.begin()
    clinic.answer(conversation_id, token, "Are you open on Saturday?")
    asked = _widget(clinic, "POST", f"/{conversation_id}/handoff", {"visitor_token": token})
    assert asked.status == 200, asked
    return conversation_id, token


def _reply(clinic: Clinic, conversation_id: str, text: str, **body: Any) -> h.HttpResponse:
    return api(
        CONVERSATIONS,
        "POST",
        f"{clinic.server}/{conversation_id}/replies",
        {"text": text, **body},
        caller=clinic.tenant.owner,
    )


def _visitor_reads(clinic: Clinic, conversation_id: str, token: str, **query: str) -> Any:
    response = gateway(
        "GET",
        f"{clinic.public}/{conversation_id}",
        key=clinic.widget,
        origin=h.ALLOWED_ORIGIN,
        query={"visitor_token": token, **query},
    )
    assert response.status == 200, response
    return response.json


def _open_handoffs(caller: h.Principal, **query: str) -> list[dict[str, Any]]:
    response = api(CONVERSATIONS, "GET", "/v1/handoffs", caller=caller, query=query or None)
    assert response.status == 200, response
    items: list[dict[str, Any]] = response.json["items"]
    return items


# ---------------------------------------------------------------------------- a person replies


def test_a_person_lists_the_open_handoff_reads_the_transcript_and_replies(
    clinic: Clinic, published
):
    # Given a visitor who asked a question, then for a person
    conversation_id, token = _ask_for_a_person(clinic)
    # Then the request is a note in the conversation, and the handoff is open
    seen = _visitor_reads(clinic, conversation_id, token)
    assert seen["conversation"]["handoff_state"]["status"] == "requested"
    assert [m["kind"] for m in seen["messages"] if m["role"] == "system"] == ["handoff_requested"]

    # When someone of the team lists the open handoffs
    listed = _open_handoffs(clinic.tenant.key("member"))
    # Then the conversation is there, waiting
    assert [(i["conversation_id"], i["status"]) for i in listed] == [(conversation_id, "requested")]
    # And its transcript has the visitor's question and the agent's answer
    transcript = clinic.read(conversation_id)["messages"]
    assert [m["role"] for m in transcript] == ["user", "assistant", "system"]

    # When Dana replies
    replied = _reply(
        clinic, conversation_id, "Hi, this is **Dana**. How can I help?", author="Dana"
    )
    assert replied.status == 201, replied
    # Then the conversation is hers, and the visitor reads a note and her reply
    assert replied.json["conversation"]["handoff_state"]["status"] == "held"
    latest = _visitor_reads(clinic, conversation_id, token)
    assert latest["conversation"]["handoff_state"] == {
        "status": "held",
        "requested_at": latest["conversation"]["handoff_state"]["requested_at"],
        "changed_at": latest["conversation"]["handoff_state"]["changed_at"],
        "operator": "Dana",
    }
    tail = latest["messages"][-2:]
    assert [(m["role"], m["kind"], m["author"]) for m in tail] == [
        ("system", "operator_joined", "Dana"),
        ("operator", None, "Dana"),
    ]
    assert tail[1]["text"] == "Hi, this is **Dana**. How can I help?"
    assert _open_handoffs(clinic.tenant.owner)[0]["status"] == "held"
    # And the events say who took it over, once
    replies = events_of(published, clinic.tenant.id, "OperatorReplied")
    assert [r["data"]["joined"] for r in replies] == [True]


def test_while_a_person_holds_the_conversation_the_agent_stays_quiet(clinic: Clinic, published):
    # Given a conversation Dana took over
    conversation_id, token = _ask_for_a_person(clinic)
    assert _reply(clinic, conversation_id, "Hello!", author="Dana").status == 201
    answered_before = len(events_of(published, clinic.tenant.id, "MessageAnswered"))

    # When the visitor writes
    response = clinic.ask(conversation_id, token, "Are you open on Sunday?")
    # Then the message is stored for Dana and the agent does not answer
    assert response.status == 201, response
    assert response.json["answer"] is None
    assert response.json["question"]["status"] == "sent"
    assert response.json["handoff_state"] == {"status": "held"}
    assert len(events_of(published, clinic.tenant.id, "MessageAnswered")) == answered_before
    # And a second reply from Dana adds no second "joined" note
    assert _reply(clinic, conversation_id, "Sundays we are closed.", author="Dana").status == 201
    kinds = [m["kind"] for m in clinic.read(conversation_id)["messages"] if m["role"] == "system"]
    assert kinds == ["handoff_requested", "operator_joined"]

    # When Dana hands the conversation back
    released = api(
        CONVERSATIONS,
        "POST",
        f"{clinic.server}/{conversation_id}/handoff/release",
        {},
        caller=clinic.tenant.owner,
    )
    assert released.status == 200, released
    assert released.json["message"]["kind"] == "handoff_released"
    assert released.json["message"]["author"] == "Dana"
    # Then the agent answers again, and the handoff is no longer open
    assert clinic.answer(conversation_id, token, "Do you accept cards?")["text"]
    assert _open_handoffs(clinic.tenant.owner) == []
    # And releasing again is a conflict that says why
    again = api(
        CONVERSATIONS,
        "POST",
        f"{clinic.server}/{conversation_id}/handoff/release",
        {},
        caller=clinic.tenant.owner,
    )
    assert (again.status, again.error_code) == (409, "no_open_handoff")


def test_asking_for_a_person_twice_adds_nothing(clinic: Clinic, published):
    conversation_id, token = _ask_for_a_person(clinic)
    again = _widget(clinic, "POST", f"/{conversation_id}/handoff", {"visitor_token": token})
    assert again.status == 200 and again.json["message"] is None
    assert len(events_of(published, clinic.tenant.id, "HandoffRequested")) == 1


def test_a_widget_catching_up_reads_only_what_is_new(clinic: Clinic):
    conversation_id, token = _ask_for_a_person(clinic)
    seen = _visitor_reads(clinic, conversation_id, token)["messages"]
    _reply(clinic, conversation_id, "Hello from the team")
    newer = _visitor_reads(clinic, conversation_id, token, after=seen[-1]["id"])["messages"]
    assert [(m["role"], m["author"]) for m in newer] == [("system", None), ("operator", None)]
    bad = gateway(
        "GET",
        f"{clinic.public}/{conversation_id}",
        key=clinic.widget,
        origin=h.ALLOWED_ORIGIN,
        query={"visitor_token": token, "after": "yesterday"},
    )
    assert bad.status == 400


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "x" * 2001},
        {"text": "hi", "author": ""},
        {"text": "hi", "author": "a" * 61},
        {"text": "hi", "role": "assistant"},
    ],
)
def test_a_reply_is_validated(clinic: Clinic, body: dict[str, Any]):
    conversation_id, _ = _ask_for_a_person(clinic)
    response = api(
        CONVERSATIONS,
        "POST",
        f"{clinic.server}/{conversation_id}/replies",
        body,
        caller=clinic.tenant.owner,
    )
    assert response.status == 422, response
    assert len(clinic.read(conversation_id)["messages"]) == 3


def test_another_tenant_can_neither_reply_nor_see_the_handoff(clinic: Clinic, tenant: NewTenant):
    conversation_id, _ = _ask_for_a_person(clinic)
    other = tenant("Someone else")
    response = api(
        CONVERSATIONS,
        "POST",
        f"{clinic.server}/{conversation_id}/replies",
        {"text": "Hi"},
        caller=other.owner,
    )
    assert response.status == 404
    assert _open_handoffs(other.owner) == []
    viewer = clinic.tenant.key("viewer")
    denied = api(
        CONVERSATIONS,
        "POST",
        f"{clinic.server}/{conversation_id}/replies",
        {"text": "Hi"},
        caller=viewer,
    )
    assert denied.status == 403


# ---------------------------------------------------------------------------- nobody answers


def _requested_event(clinic: Clinic, conversation_id: str, published) -> dict[str, Any]:
    (event,) = [
        e
        for e in published.of(clinic.tenant.id, "HandoffRequested")
        if e["detail"]["data"]["conversation_id"] == conversation_id
    ]
    return event


def _run_worker(bodies: list[str]) -> Any:
    return h.invoke(WORKER, h.sqs_event(bodies))


def test_an_unanswered_handoff_times_out_and_the_team_gets_the_transcript(
    clinic: Clinic, published, worker: str
):
    # Given a visitor who asked for a person, and the HandoffRequested event on the worker's
    # queue after the agent's 60 s are over (its delay is what is left: none)
    conversation_id, token = _ask_for_a_person(clinic)
    event = _requested_event(clinic, conversation_id, published)
    from conversations.logic import handoff, handoff_worker

    asked = event["detail"]["data"]["requested_at"]
    late = datetime.fromisoformat(asked.replace("Z", "+00:00")) + timedelta(seconds=61)
    assert handoff.seconds_left(asked, 60, now=late) == 0
    assert handoff.seconds_left(asked, 60, now=late - timedelta(seconds=31)) == 30
    assert handoff_worker.SQS_MAX_DELAY == 900  # the agents' timeout is at most 900 s for this

    # When the worker takes the event: it schedules the timeout
    assert _run_worker([json.dumps(event)]) == {"batchItemFailures": []}
    scheduled = (
        h.aws_client("sqs")
        .receive_message(
            QueueUrl=worker, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        )
        .get("Messages", [])
    )
    # (moto honours the delay: the message is not visible yet; the timeout is then fed directly)
    assert scheduled == []
    timeout = handoff.timeout_message(clinic.tenant.id, conversation_id, asked)
    before = len(_sent_emails())

    # When the timeout arrives and nobody has replied
    assert _run_worker([timeout]) == {"batchItemFailures": []}
    # Then the handoff timed out, the visitor's widget says so, and the team got the transcript
    seen = _visitor_reads(clinic, conversation_id, token)
    assert seen["conversation"]["handoff_state"]["status"] == "timed_out"
    assert seen["messages"][-1]["kind"] == "handoff_timed_out"
    emails = _sent_emails()[before:]
    assert len(emails) == 1
    email = emails[0]
    assert email.source == SENDER and email.destinations["ToAddresses"] == [TEAM_INBOX]
    assert "nobody answered" in email.subject
    assert "Visitor: Are you open on Saturday?" in email.body
    assert "Assistant:" in email.body and "10am to 2pm" in email.body
    assert "the visitor was asked for an email" in email.body
    assert len(events_of(published, clinic.tenant.id, "HandoffTimedOut")) == 1

    # When the same timeout is delivered again, nothing more happens
    assert _run_worker([timeout]) == {"batchItemFailures": []}
    assert len(_sent_emails()) == before + 1

    # When the visitor then leaves an email address
    lead = _widget(
        clinic,
        "POST",
        f"/{conversation_id}/lead",
        {"email": "sam@example.com", "visitor_token": token},
    )
    assert lead.status == 201, lead
    assert lead.json["message"]["kind"] == "lead_captured"
    (captured,) = published.of(clinic.tenant.id, "LeadCaptured")
    # Then the team gets a second email, with the address to answer
    assert _run_worker([json.dumps(captured)]) == {"batchItemFailures": []}
    second = _sent_emails()[before + 1 :]
    assert len(second) == 1 and "sam@example.com" in second[0].body
    assert "left contact details" in second[0].subject
    # (and only once)
    assert _run_worker([json.dumps(captured)]) == {"batchItemFailures": []}
    assert len(_sent_emails()) == before + 2


def test_a_reply_before_the_timeout_means_no_timeout_and_no_email(
    clinic: Clinic, published, worker: str
):
    conversation_id, token = _ask_for_a_person(clinic)
    asked = _requested_event(clinic, conversation_id, published)["detail"]["data"]["requested_at"]
    assert _reply(clinic, conversation_id, "Here I am", author="Dana").status == 201
    from conversations.logic import handoff

    before = len(_sent_emails())
    assert _run_worker([handoff.timeout_message(clinic.tenant.id, conversation_id, asked)]) == {
        "batchItemFailures": []
    }
    assert (
        _visitor_reads(clinic, conversation_id, token)["conversation"]["handoff_state"]["status"]
        == "held"
    )
    assert len(_sent_emails()) == before


def test_a_late_reply_takes_over_a_timed_out_handoff(clinic: Clinic, published, worker: str):
    conversation_id, token = _ask_for_a_person(clinic)
    asked = _requested_event(clinic, conversation_id, published)["detail"]["data"]["requested_at"]
    from conversations.logic import handoff

    _run_worker([handoff.timeout_message(clinic.tenant.id, conversation_id, asked)])
    assert _reply(clinic, conversation_id, "Sorry for the wait!").status == 201
    state = _visitor_reads(clinic, conversation_id, token)["conversation"]["handoff_state"]
    assert state["status"] == "held"


def test_an_agent_without_a_handoff_email_sends_none(
    aws: h.World, tenant: NewTenant, published, worker: str
):
    clinic = make_clinic(aws, tenant("No inbox"), enabled_tools=["knowledge", "handoff"])
    conversation_id, token = _ask_for_a_person(clinic)
    asked = _requested_event(clinic, conversation_id, published)["detail"]["data"]["requested_at"]
    from conversations.logic import handoff

    before = len(_sent_emails())
    _run_worker([handoff.timeout_message(clinic.tenant.id, conversation_id, asked)])
    assert (
        _visitor_reads(clinic, conversation_id, token)["conversation"]["handoff_state"]["status"]
        == "timed_out"
    )
    assert len(_sent_emails()) == before


# ---------------------------------------------------------------------------- the live channel


def _connect(clinic: Clinic, origin: str, key: str | None = None) -> Any:
    event = h.load_event("conversations/websocket_connect")
    event["queryStringParameters"] = {
        "agent": clinic.agent["id"],
        "key": key or clinic.widget.secret,
    }
    event["headers"]["Origin"] = origin
    return h.invoke(REALTIME, event)


def _subscribe(clinic: Clinic, conversation_id: str, token: str, connection_id: str) -> Any:
    event = h.load_event("conversations/websocket_subscribe")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = json.dumps(
        {
            "action": "subscribe",
            "agent_id": clinic.agent["id"],
            "key": clinic.widget.secret,
            "conversation_id": conversation_id,
            "visitor_token": token,
        }
    )
    return h.invoke(REALTIME, event)


def _pushed(connection_id: str) -> list[dict[str, Any]]:
    from urllib.parse import quote

    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    connections = apigatewaymanagementapi_backends["123456789012"][h.REGION].connections
    # moto keys a connection by its id as it appears in the request path (URL-encoded)
    raw = connections[quote(connection_id, safe="")].data
    # one JSON document per push, back to back
    decoder, found, at = json.JSONDecoder(), [], 0
    text = raw.decode()
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def test_the_live_channel_admits_the_widgets_origin_only(clinic: Clinic):
    assert _connect(clinic, h.ALLOWED_ORIGIN)["statusCode"] == 200
    assert _connect(clinic, "https://evil.example.net")["statusCode"] == 403
    assert _connect(clinic, h.ALLOWED_ORIGIN, key="pk_not_a_key_at_all")["statusCode"] == 403
    event = h.load_event("conversations/websocket_connect")
    event["queryStringParameters"] = None
    assert h.invoke(REALTIME, event)["statusCode"] == 401


def test_a_subscribed_widget_gets_the_persons_reply_pushed(clinic: Clinic, worker: str):
    # Given a visitor whose widget follows the conversation on a WebSocket connection
    conversation_id, token = _ask_for_a_person(clinic)
    connection = "Kx1aBcVRIAMCJ2w="
    assert _subscribe(clinic, conversation_id, token, connection)["statusCode"] == 200
    assert _pushed(connection) == [{"type": "subscribed", "conversation_id": conversation_id}]
    # When Dana replies
    assert _reply(clinic, conversation_id, "Hi, Dana here.", author="Dana").status == 201
    # Then the note and the reply are pushed with the handoff's state
    push = _pushed(connection)[-1]
    assert [m["role"] for m in push["messages"]] == ["system", "operator"]
    assert push["messages"][1]["text"] == "Hi, Dana here."
    assert push["handoff_state"]["status"] == "held"


def test_a_widget_cannot_follow_another_visitors_conversation(clinic: Clinic, worker: str):
    conversation_id, _ = _ask_for_a_person(clinic)
    _, other_token = clinic.begin()
    connection = "Lm2bCdWSJBNDK3x="
    assert _subscribe(clinic, conversation_id, other_token, connection)["statusCode"] == 404
    assert _pushed(connection) == [{"type": "error", "code": "not_found"}]


# ---------------------------------------------------------------------------- page context


def test_the_pages_context_is_kept_with_the_question_and_validated(clinic: Clinic):
    conversation_id, token = clinic.begin()
    asked = gateway(
        "POST",
        f"{clinic.public}/{conversation_id}/messages",
        {
            "text": "Are you open on Saturday?",
            "visitor_token": token,
            "context": {"page": "pricing", "plan": "pro", "seats": 3},
        },
        key=clinic.widget,
        origin=h.ALLOWED_ORIGIN,
    )
    assert asked.status == 201, asked
    stored = clinic.read(conversation_id)["messages"][0]
    assert stored["context"] == {"page": "pricing", "plan": "pro", "seats": 3}
    for context in (
        {f"k{n}": "v" for n in range(21)},
        {"bad name": "x"},
        {"page": "x" * 501},
        {"nested": {"a": 1}},
    ):
        refused = gateway(
            "POST",
            f"{clinic.public}/{conversation_id}/messages",
            {"text": "Hi?", "visitor_token": token, "context": context},
            key=clinic.widget,
            origin=h.ALLOWED_ORIGIN,
        )
        assert refused.status == 422, context
