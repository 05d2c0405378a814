"""What an attacker and a fuzzer found, each kept fixed by a test: races read by item identity,
deleted agents refusing writes at once from any warm environment, public routes throttled per
client address and per publishable key, malformed input that used to be a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration import harness as h
from tests.integration.harness import api
from tests.integration.test_conversations import CONVERSATIONS, Clinic, make_clinic

NewTenant = Callable[..., h.Tenant]


@pytest.fixture
def clinic(aws: h.World, tenant: NewTenant) -> Clinic:
    return make_clinic(aws, tenant("Acme Dental"))


@pytest.fixture
def frozen_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from conversations.logic import rate_limits

    monkeypatch.setattr(rate_limits, "now", lambda: 1_800_000_030.0)


def race_after_first_read(
    monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], None]
) -> list[bool]:
    """Run ``meanwhile`` once, right after the first message has read its conversation and
    counters and before it writes (what a concurrent request does)."""
    from conversations.dal import repository

    original = repository.read_turn
    raced: list[bool] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        reads = original(*args, **kwargs)
        if kwargs.get("counters") and not raced:
            raced.append(True)
            meanwhile()
        return reads

    monkeypatch.setattr(repository, "read_turn", racing)
    return raced


# ---------------------------------------------------------------------------- races


def test_a_concurrent_message_on_one_conversation_is_a_conflict_not_a_rate_limit(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch, frozen_window
):
    # Given a visitor whose second message is answered while the first is being answered
    conversation_id, token = clinic.begin()
    raced = race_after_first_read(
        monkeypatch, lambda: clinic.answer(conversation_id, token, "Are you open on Saturday?")
    )

    # When the first (a cache miss: its transaction also puts the cache entry and the event)
    # writes against the state the second one changed
    response = clinic.ask(conversation_id, token, "How do I pay?")

    # Then it is the version conflict it is, not "too many messages for this agent"
    assert raced
    assert (response.status, response.error_code) == (409, "conflict"), response
    assert clinic.read(conversation_id)["conversation"]["message_count"] == 2


def test_a_visitor_limit_reached_meanwhile_is_429_not_a_conflict(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch, reconfigure, frozen_window
):
    # Given a visitor allowed 2 messages a window, with 1 used
    reconfigure(VISITOR_MESSAGES_PER_WINDOW="2")
    conversation_id, token = clinic.begin()
    clinic.answer(conversation_id, token, "Are you open on Saturday?")
    other_id, _ = clinic.begin({"visitor_token": token})
    # When the same visitor's other conversation takes the last slot meanwhile
    raced = race_after_first_read(
        monkeypatch, lambda: clinic.answer(other_id, token, "Are you open on Sunday?")
    )
    response = clinic.ask(conversation_id, token, "How do I pay?")

    # Then the visitor's limit answers, with its wait
    assert raced
    assert (response.status, response.error_code) == (429, "too_many_requests"), response
    assert response.json["error"]["details"]["scope"] == "visitor"
    assert response.headers["Retry-After"] == "30"


# ---------------------------------------------------------------------------- deleted agents


def delete_agent(clinic: Clinic) -> None:
    response = api(
        h.AGENTS, "DELETE", f"/v1/agents/{clinic.agent['id']}", caller=clinic.tenant.owner
    )
    assert response.status == 204, response


def test_a_deleted_agent_refuses_conversations_and_messages_at_once_from_warm_environments(
    clinic: Clinic,
):
    conversation_id, token = clinic.begin()
    delete_agent(clinic)
    assert _cached_stale_agent(clinic)

    started = clinic.start()
    asked = clinic.ask(conversation_id, token, "Are you open on Saturday?")
    by_server = api(
        CONVERSATIONS,
        "POST",
        f"{clinic.server}/{conversation_id}/messages",
        {"text": "hello"},
        caller=clinic.tenant.owner,
    )

    assert (started.status, started.error_code) == (404, "not_found"), started
    assert (asked.status, asked.error_code) == (404, "not_found"), asked
    assert by_server.status == 404, by_server


def test_a_deleted_agent_refuses_documents_at_once_from_warm_environments(clinic: Clinic):
    delete_agent(clinic)
    assert _cached_stale_agent(clinic)

    created = api(
        h.KNOWLEDGE,
        "POST",
        f"/v1/agents/{clinic.agent['id']}/documents",
        {"source": {"type": "url", "url": "https://example.com/faq"}},
        caller=clinic.tenant.owner,
    )
    imported = api(
        h.KNOWLEDGE,
        "POST",
        f"/v1/agents/{clinic.agent['id']}/imports",
        {"type": "sitemap", "url": "https://example.com/sitemap.xml"},
        caller=clinic.tenant.owner,
    )

    assert (created.status, created.error_code) == (404, "not_found"), created
    assert (imported.status, imported.error_code) == (404, "not_found"), imported


def _cached_stale_agent(clinic: Clinic) -> bool:
    """Put the deleted agent back into this environment's agent cache, as another warm
    environment still has it, and say whether the cache now serves it."""
    from agents.logic.service import agent_cache
    from agents.models import Agent

    agent = Agent.model_validate({**clinic.agent, "tenant_id": clinic.tenant.id})
    agent_cache().set((clinic.tenant.id, clinic.agent["id"]), agent)
    return agent_cache().get((clinic.tenant.id, clinic.agent["id"])) is not None


def cleanup_deliveries(aws: h.World, tenant_id: str) -> list[dict[str, Any]]:
    """AgentDeleted events EventBridge delivered to the cleanup queue (the template's rule),
    after the relay moved them from the outbox; other tenants' are dropped."""
    h.relay_outbox(aws.table_name)
    got = h.take_messages(str(aws.ref("AgentCleanupQueue")))
    return [m for m in got if json.loads(m["Body"])["detail"]["tenant_id"] == tenant_id]


def objects_of(aws: h.World, tenant_id: str, agent_id: str) -> list[str]:
    s3 = h.aws_client("s3")
    found: list[str] = []
    for area in ("uploads", "sources", "chunks", "index"):
        listed = s3.list_objects_v2(
            Bucket=aws.documents_bucket, Prefix=f"{area}/{tenant_id}/{agent_id}/"
        )
        found += [o["Key"] for o in listed.get("Contents", [])]
    return found


def test_a_deleted_agents_keys_documents_and_conversations_are_removed_once_and_for_all(
    aws: h.World, clinic: Clinic
):
    # Given an agent with an indexed document, a conversation with a lead, a widget key, and
    # another agent of the same tenant that must keep everything
    tenant, agent_id = clinic.tenant, clinic.agent["id"]
    conversation_id, token = clinic.begin()
    clinic.answer(conversation_id, token, "Are you open on Saturday?")
    lead = h.gateway(
        "POST",
        f"{clinic.public}/{conversation_id}/lead",
        {"visitor_token": token, "email": "ada@example.com"},
        key=clinic.widget,
        origin=h.ALLOWED_ORIGIN,
    )
    assert lead.status == 201, lead
    other = make_clinic(aws, tenant)
    other_conversation, _ = other.begin()
    assert objects_of(aws, tenant.id, agent_id)

    # When the agent is deleted and AgentDeleted reaches the cleanup consumer
    delete_agent(clinic)
    deliveries = cleanup_deliveries(aws, tenant.id)
    assert len(deliveries) == 1
    first = h.invoke(h.AGENT_CLEANUP, h.sqs_event_from_messages(deliveries))

    # Then its keys are revoked, its documents (items and objects) and conversations are gone
    assert first == {"batchItemFailures": []}
    keys = api(h.IDENTITY, "GET", "/v1/publishable-keys", caller=tenant.owner).json["items"]
    by_agent = {k["id"]: k for k in keys if k["agent_id"] == agent_id}
    assert by_agent and all(k["revoked_at"] for k in by_agent.values())
    assert objects_of(aws, tenant.id, agent_id) == []
    listed = api(CONVERSATIONS, "GET", "/v1/conversations", caller=tenant.owner).json["items"]
    assert [c["id"] for c in listed] == [other_conversation]
    assert _knowledge_items(aws, tenant.id, agent_id) == []
    assert _conversation_items(aws, tenant.id, conversation_id) == []
    # the other agent keeps its key, documents and conversations
    assert objects_of(aws, tenant.id, other.agent["id"])
    assert other.start().status == 201

    # And a redelivery (at-least-once) changes nothing and fails nothing
    again = h.invoke(h.AGENT_CLEANUP, h.sqs_event_from_messages(deliveries))
    assert again == {"batchItemFailures": []}


def test_a_message_that_is_not_an_agent_deletion_fails_alone(aws: h.World, clinic: Clinic):
    delete_agent(clinic)
    deliveries = cleanup_deliveries(aws, clinic.tenant.id)
    event = h.sqs_event_from_messages(deliveries)
    poison = h.sqs_event(['{"detail-type":"AgentDeleted","detail":{}}'], message_ids=["poison"])
    event["Records"] += poison["Records"]

    result = h.invoke(h.AGENT_CLEANUP, event)

    assert result == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert objects_of(aws, clinic.tenant.id, clinic.agent["id"]) == []


def _partition(aws: h.World, pk: str) -> list[dict[str, Any]]:
    ddb = h.aws_client("dynamodb")
    return ddb.query(
        TableName=aws.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )["Items"]


def _conversation_items(aws: h.World, tenant_id: str, conversation_id: str) -> list[Any]:
    from agenthub import keys

    return _partition(aws, keys.conversation_pk(tenant_id, conversation_id))


# ---------------------------------------------------------------------------- public limits


def assert_refused(response: h.HttpResponse, scope: str, limit: int) -> None:
    assert (response.status, response.error_code) == (429, "too_many_requests"), response
    assert response.json["error"]["details"] == {
        "scope": scope,
        "limit": limit,
        "window_seconds": 60,
    }
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Access-Control-Allow-Origin"] == h.ALLOWED_ORIGIN


def test_conversation_starts_from_one_client_address_are_limited(
    clinic: Clinic, reconfigure, frozen_window
):
    # Given a deployment allowing each client address 3 conversation starts a minute
    reconfigure(CLIENT_STARTS_PER_WINDOW="3")
    script = "198.51.100.7"
    for _ in range(3):
        assert clinic.start(client_address=script).status == 201

    # When the same address starts a fourth
    refused = clinic.start(client_address=script)

    # Then it is refused with its wait, nothing is stored, and other addresses are not affected
    assert_refused(refused, "client", 3)
    assert clinic.start(client_address="203.0.113.9").status == 201
    listed = api(CONVERSATIONS, "GET", "/v1/conversations", caller=clinic.tenant.owner)
    assert len(listed.json["items"]) == 4


def test_conversation_starts_with_one_publishable_key_are_limited_across_addresses(
    clinic: Clinic, reconfigure, frozen_window
):
    reconfigure(KEY_STARTS_PER_WINDOW="3")
    for n in range(3):
        assert clinic.start(client_address=f"198.51.100.{n}").status == 201

    assert_refused(clinic.start(client_address="198.51.100.99"), "key", 3)
    # (the tenant's server, with its secret key, is not a publishable key)
    by_server = api(CONVERSATIONS, "POST", clinic.server, {}, caller=clinic.tenant.owner)
    assert by_server.status == 201, by_server


def test_messages_from_one_client_address_are_limited_whatever_the_visitor(
    clinic: Clinic, reconfigure, frozen_window
):
    # Given 2 messages a minute per client address, and fresh visitors from one address
    reconfigure(CLIENT_MESSAGES_PER_WINDOW="2")
    script = "198.51.100.7"
    for _ in range(2):
        conversation_id, token = clinic.begin_from(script)
        assert (
            clinic.ask(conversation_id, token, "Are you open?", client_address=script).status == 201
        )

    # When a third fresh visitor from that address asks
    conversation_id, token = clinic.begin_from(script)
    refused = clinic.ask(conversation_id, token, "Are you open?", client_address=script)

    # Then it is refused; the same visitor from elsewhere is not
    assert_refused(refused, "client", 2)
    assert clinic.read(conversation_id)["conversation"]["message_count"] == 0
    elsewhere = clinic.ask(conversation_id, token, "Are you open?", client_address="203.0.113.9")
    assert elsewhere.status == 201, elsewhere


def test_messages_with_one_publishable_key_are_limited_below_the_agents_budget(
    clinic: Clinic, reconfigure, frozen_window
):
    reconfigure(KEY_MESSAGES_PER_WINDOW="2", AGENT_MESSAGES_PER_WINDOW="10")
    for n in range(2):
        address = f"198.51.100.{n}"
        conversation_id, token = clinic.begin_from(address)
        assert (
            clinic.ask(conversation_id, token, "Are you open?", client_address=address).status
            == 201
        )

    conversation_id, token = clinic.begin_from("198.51.100.50")
    refused = clinic.ask(conversation_id, token, "Are you open?", client_address="198.51.100.50")

    assert_refused(refused, "key", 2)
    # the agent's budget is left for the tenant's own server
    by_server = api(
        CONVERSATIONS,
        "POST",
        f"{clinic.server}/{conversation_id}/messages",
        {"text": "Are you open?"},
        caller=clinic.tenant.owner,
    )
    assert by_server.status == 201, by_server


def test_behind_cloudfront_the_viewers_address_is_counted_not_the_edge_servers(
    clinic: Clinic, reconfigure, frozen_window
):
    reconfigure(CLIENT_STARTS_PER_WINDOW="1")
    edge = "130.176.0.1"  # every visitor behind one edge server has this sourceIp

    def via_edge(viewer: str) -> h.HttpResponse:
        return clinic.start(client_address=edge, headers={"CloudFront-Viewer-Address": viewer})

    assert via_edge("198.51.100.7:50123").status == 201
    assert via_edge("2001:db8::7:443").status == 201
    assert_refused(via_edge("198.51.100.7:50999"), "client", 1)


# ---------------------------------------------------------------------------- malformed input

NON_ASCII_CURSOR = "eyJrIjp7fX0.sïgnåtüre€"  # base64url before the dot, not after


@pytest.mark.parametrize(
    ("handler", "path"),
    [
        (h.AGENTS, "/v1/agents"),
        ("audit.handlers.api", "/v1/audit-log"),
        (CONVERSATIONS, "/v1/conversations"),
        (h.KNOWLEDGE, "/v1/agents/{agent}/documents"),
    ],
)
def test_a_cursor_with_non_ascii_characters_is_a_bad_request(clinic: Clinic, handler, path):
    response = api(
        handler,
        "GET",
        path.format(agent=clinic.agent["id"]),
        query={"cursor": NON_ASCII_CURSOR},
        caller=clinic.tenant.owner,
    )
    assert (response.status, response.error_code) == (400, "bad_request"), response


def test_a_visitor_token_with_non_ascii_characters_is_refused_like_any_invalid_token(
    clinic: Clinic,
):
    conversation_id, token = clinic.begin()
    forged = token[:-3] + "äöü"
    read = h.gateway(
        "GET",
        f"{clinic.public}/{conversation_id}",
        key=clinic.widget,
        origin=h.ALLOWED_ORIGIN,
        query={"visitor_token": forged},
    )
    asked = clinic.ask(conversation_id, forged, "hello")
    resumed = clinic.start({"visitor_token": forged})
    for response in (read, asked, resumed):
        assert (response.status, response.error_code) == (401, "invalid_visitor"), response


def test_json_nested_thousands_deep_is_a_bad_request(clinic: Clinic):
    deep = "[" * 5000 + "]" * 5000
    for response in (
        api(h.AGENTS, "POST", "/v1/agents", raw_body=deep, caller=clinic.tenant.owner),
        h.gateway("POST", clinic.public, key=clinic.widget, origin=h.ALLOWED_ORIGIN, raw_body=deep),
    ):
        assert (response.status, response.error_code) == (400, "bad_request"), response
        assert "nested too deeply" in response.json["error"]["message"]


def _knowledge_items(aws: h.World, tenant_id: str, agent_id: str) -> list[Any]:
    from agenthub import keys

    return _partition(aws, keys.knowledge_pk(tenant_id, agent_id))


def test_the_agent_deleted_sample_runs_the_cleanup_consumer(aws: h.World):
    from tests.support.events import load_event

    # (an agent that never existed: nothing to remove, nothing fails)
    assert h.invoke(h.AGENT_CLEANUP, load_event("agents/sqs_agent_deleted")) == {
        "batchItemFailures": []
    }


# ---------------------------------------------------------------------------- display, CORS


@pytest.mark.parametrize(
    "name", ["Front\x00desk", "Support \u202egnp.exe", "a\u2066b", "tab\x1bescape"]
)
def test_names_with_nul_or_bidi_override_characters_are_refused(clinic: Clinic, name):
    agent = api(h.AGENTS, "POST", "/v1/agents", {"name": name}, caller=clinic.tenant.owner)
    key = api(
        h.IDENTITY, "POST", "/v1/keys", {"name": name, "role": "viewer"}, caller=clinic.tenant.owner
    )
    upload = api(
        h.KNOWLEDGE,
        "POST",
        f"/v1/agents/{clinic.agent['id']}/documents",
        {"source": {"type": "upload", "file_name": f"{name}.pdf", "size": 10}},
        caller=clinic.tenant.owner,
    )
    for response in (agent, key, upload):
        assert (response.status, response.error_code) == (422, "validation_failed"), response


def test_right_to_left_text_and_its_marks_are_still_accepted(clinic: Clinic):
    created = api(
        h.AGENTS,
        "POST",
        "/v1/agents",
        {"name": "\u05de\u05e8\u05e4\u05d0\u05d4 \u200f(2)"},
        caller=clinic.tenant.owner,
    )
    assert created.status == 201, created


def test_false_is_not_a_temperature(clinic: Clinic):
    response = api(
        h.AGENTS,
        "POST",
        "/v1/agents",
        {"name": "Desk", "temperature": False},
        caller=clinic.tenant.owner,
    )
    assert (response.status, response.error_code) == (422, "validation_failed"), response


def test_gateway_refusals_of_widget_calls_carry_cors_and_expose_retry_after(clinic: Clinic):
    bad_key = h.gateway("POST", clinic.public, {}, key="Bearer pk_nope", origin=h.ALLOWED_ORIGIN)
    no_origin = h.gateway("POST", clinic.public, {}, key=clinic.widget)

    assert bad_key.status == 401, bad_key
    assert no_origin.status == 401, no_origin
    assert "Origin" in no_origin.json["error"]["message"]
    for refused in (bad_key, no_origin):
        assert refused.headers["Access-Control-Allow-Origin"] == "*"
        assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]


def test_a_functions_429_exposes_retry_after_to_the_page(
    clinic: Clinic, reconfigure, frozen_window
):
    reconfigure(CLIENT_STARTS_PER_WINDOW="1")
    clinic.start()
    refused = clinic.start()
    assert refused.status == 429
    assert refused.headers["Access-Control-Expose-Headers"] == "Retry-After"


# ---------------------------------------------------------------------------- stuck documents


def _document_as_left_by_a_timed_out_worker(aws: h.World, clinic: Clinic, minutes_ago: int) -> str:
    """A new document, then what a worker killed by its timeout leaves: ``processing``, last
    touched ``minutes_ago``."""
    from datetime import UTC, datetime, timedelta

    from agenthub import keys

    created = api(
        h.KNOWLEDGE,
        "POST",
        f"/v1/agents/{clinic.agent['id']}/documents",
        {"source": {"type": "text", "text": "# Parking\n\nFree parking behind the clinic."}},
        caller=clinic.tenant.owner,
    )
    assert created.status == 202, created
    document_id: str = created.json["document"]["id"]
    touched = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    h.aws_client("dynamodb").update_item(
        TableName=aws.table_name,
        Key={
            "pk": {"S": keys.knowledge_pk(clinic.tenant.id, clinic.agent["id"])},
            "sk": {"S": keys.document_sk(document_id)},
        },
        UpdateExpression="SET #s = :p, updated_at = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":p": {"S": "processing"},
            ":t": {"S": touched.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        },
    )
    return document_id


def test_a_document_stuck_in_processing_is_marked_failed_with_a_reason(
    aws: h.World, clinic: Clinic, published
):
    # Given a document whose last attempt timed out 45 minutes ago, and one being processed now
    stuck = _document_as_left_by_a_timed_out_worker(aws, clinic, minutes_ago=45)
    live = _document_as_left_by_a_timed_out_worker(aws, clinic, minutes_ago=3)

    # When the sweep runs (twice: it is idempotent)
    first = h.invoke(h.DOCUMENT_SWEEP, {})
    second = h.invoke(h.DOCUMENT_SWEEP, {})

    # Then only the stuck one is failed, with its reason and a DocumentFailed event
    assert (first, second) == ({"marked_failed": 1}, {"marked_failed": 0})

    def document(document_id: str) -> dict[str, Any]:
        path = f"/v1/agents/{clinic.agent['id']}/documents/{document_id}"
        found: dict[str, Any] = api(h.KNOWLEDGE, "GET", path, caller=clinic.tenant.owner).json
        return dict(found.get("document", found))

    failed = document(stuck)
    assert failed["status"] == "failed"
    assert failed["failure"]["reason"] == "processing_timeout"
    assert document(live)["status"] == "processing"
    assert document(clinic.document_id)["status"] == "indexed"
    reasons = [
        e["detail"]["data"]["reason"] for e in published.of(clinic.tenant.id, "DocumentFailed")
    ]
    assert reasons == ["processing_timeout"]
