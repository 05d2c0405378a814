"""Billing through its real handlers: visitors' messages (the widget, the gateway, the real
authorizer and answerer) leave their events through the outbox, the relay and the template's
BillingRule into the billing queue, whose consumer keeps the usage ledger; the tenant reads its
usage and invoice preview, chooses plans and overage, and is refused (429/402) past its quota
in the message's own transaction. Plans are data: tests edit them in the table as an operator
would."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_string
from typing import Any

import pytest

from tests.integration import harness as h
from tests.integration.harness import api
from tests.integration.test_conversations import CLINIC, Clinic, make_clinic

BILLING = "billing.handlers.api"
CONSUMER = "billing.handlers.on_domain_event"
NewTenant = Callable[..., h.Tenant]


def period_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def queue_url(aws: h.World) -> str:
    return str(aws.ref("BillingEventsQueue"))


def count_usage(aws: h.World) -> list[dict[str, Any]]:
    """What Lambda would do: relay the outbox to the bus, then run the billing consumer over
    what BillingRule delivered to its queue, until the queue is empty."""
    h.relay_outbox(aws.table_name)
    results = []
    while messages := h.take_messages(queue_url(aws)):
        results.append(h.invoke(CONSUMER, h.sqs_event_from_messages(messages)))
    return results


def set_plan(plan_id: str, **fields: int) -> None:
    """Edit a plan in the table, as an operator would (plans are data, not code)."""
    from agenthub import environment
    from billing.logic import plans

    plans.all_plans()  # seeds the table the first time
    ddb = h.aws_client("dynamodb")
    names = {f"#{k}": k for k in fields}
    values = {f":{k}": {"N": str(v)} for k, v in fields.items()}
    ddb.update_item(
        TableName=h.world().table_name,
        Key={"pk": {"S": "PLANS"}, "sk": {"S": f"PLAN#{plan_id}"}},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
    environment.reset()  # every environment's plan cache ages out within a minute


def choose(tenant: h.Tenant, **body: Any) -> h.HttpResponse:
    return api(BILLING, "PATCH", "/v1/billing/account", body, caller=tenant.owner)


def usage(tenant: h.Tenant, **query: str) -> dict[str, Any]:
    response = api(BILLING, "GET", "/v1/billing/usage", caller=tenant.owner, query=query)
    assert response.status == 200, response
    return dict(response.json)


@pytest.fixture
def clinic(aws: h.World, tenant: NewTenant) -> Clinic:
    return make_clinic(aws, tenant("Acme Dental"))


@pytest.fixture
def frozen_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from conversations.logic import rate_limits

    monkeypatch.setattr(rate_limits, "now", lambda: 1_800_000_030.0)


# ---------------------------------------------------------------------------- the ledger


def test_answered_messages_reach_the_ledger_per_tenant_agent_and_day(
    aws, clinic: Clinic, published
):
    # Given a visitor who asked two questions, one the knowledge base answers and one it cannot
    conversation, token = clinic.begin()
    answered = clinic.answer(conversation, token, "When are you open on Saturdays?")
    abstained = clinic.answer(conversation, token, "Do you sell bicycles?")
    assert not answered["abstained"] and abstained["abstained"]

    # When their events travel outbox -> relay -> bus -> BillingRule -> queue -> consumer
    sent = [e["detail"]["data"] for e in published.of(clinic.tenant.id, "MessageAnswered")]
    results = count_usage(aws)

    # Then nothing failed, and the period, the day and the agent each count both messages
    assert all(r == {"batchItemFailures": []} for r in results)
    summary = usage(clinic.tenant)
    today = datetime.now(UTC).date().isoformat()
    totals = summary["totals"]
    assert (totals["messages"], totals["answered"], totals["abstained"]) == (2, 1, 1)
    assert totals["tokens_in"] == sum(e["tokens_in"] for e in sent)
    assert totals["tokens_out"] == sum(e["tokens_out"] for e in sent)
    [indexed] = [e["detail"]["data"] for e in published.of(clinic.tenant.id, "DocumentIndexed")]
    assert totals["documents_indexed"] == 1
    assert totals["characters_indexed"] == indexed["characters"] > 0
    assert [d["day"] for d in summary["days"]] == [today]
    assert summary["days"][0]["counts"]["messages"] == 2
    [agent] = summary["agents"]
    assert agent["agent_id"] == clinic.agent["id"] and agent["counts"]["messages"] == 2
    assert agent["days"][0]["day"] == today
    assert summary["quota"]["messages_used"] == 2
    assert summary["plan"]["id"] == "free"


def test_a_redelivered_event_is_counted_once(aws, clinic: Clinic):
    # Given a message whose event the consumer counted
    conversation, token = clinic.begin()
    clinic.answer(conversation, token, "When are you open on Saturdays?")
    h.relay_outbox(aws.table_name)
    messages = h.take_messages(queue_url(aws))
    event = h.sqs_event_from_messages(messages)
    assert h.invoke(CONSUMER, event) == {"batchItemFailures": []}

    # When SQS delivers the same messages again (at-least-once)
    assert h.invoke(CONSUMER, event) == {"batchItemFailures": []}

    # Then the ledger still counts one message
    assert usage(clinic.tenant)["totals"]["messages"] == 1


def test_a_poison_message_fails_alone_and_its_neighbours_are_counted(aws, clinic: Clinic):
    # Given a batch with a counted event between a body that is no event at all
    conversation, token = clinic.begin()
    clinic.answer(conversation, token, "When are you open on Saturdays?")
    h.relay_outbox(aws.table_name)
    good = h.take_messages(queue_url(aws))
    bodies = ["not json", *[m["Body"] for m in good]]

    # When the consumer runs over it
    result = h.invoke(CONSUMER, h.sqs_event(bodies, message_ids=["poison", *map(str, good)]))

    # Then only the poison message returns to the queue (and so, in time, its DLQ)
    assert result == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert usage(clinic.tenant)["totals"]["messages"] == 1


def test_payments_volume_is_kept_per_currency_less_refunds(aws, tenant: NewTenant):
    acme = tenant("Acme")

    def envelope(kind: str, data: dict[str, Any]) -> str:
        return json.dumps(
            h.eventbridge_envelope(
                kind,
                tenant_id=acme.id,
                occurred_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                source="agenthub.payments",
                subject="payment/pay_1",
                data=data,
            )
        )

    paid = {"payment_id": "pay_1", "kind": "checkout", "amount_minor": 4500, "currency": "eur"}
    refunded = {**paid, "refund_id": "re_1", "refunded_minor": 1500, "total_refunded_minor": 1500}
    bodies = [
        envelope("PaymentSucceeded", paid),
        envelope("PaymentRefunded", {**refunded, "reason": "requested_by_customer"}),
    ]
    assert h.invoke(CONSUMER, h.sqs_event(bodies)) == {"batchItemFailures": []}

    summary = usage(acme)
    assert summary["payment_volume_minor"] == {"eur": 3000}
    assert summary["totals"]["payments"] == 1


# ---------------------------------------------------------------------------- plans, quotas


def test_plans_are_seeded_data_a_tenant_can_list(aws, tenant: NewTenant):
    response = api(BILLING, "GET", "/v1/billing/plans", caller=tenant("Acme").owner)
    assert response.status == 200, response
    plans = {p["id"]: p for p in response.json["items"]}
    assert set(plans) == {"free", "pro", "business"}
    assert plans["free"]["overage_message_minor"] is None
    assert plans["pro"]["included_messages"] < plans["business"]["included_messages"]


def test_overage_on_a_plan_without_overage_is_refused_and_changes_nothing(aws, tenant: NewTenant):
    acme = tenant("Acme")
    refused = choose(acme, enforcement="overage", spend_cap_minor=1000)
    assert refused.status == 422 and refused.error_code == "validation_failed"
    account = api(BILLING, "GET", "/v1/billing/account", caller=acme.owner).json
    assert (account["plan_id"], account["enforcement"], account["version"]) == (
        "free",
        "hard_stop",
        0,
    )


@pytest.mark.parametrize("field", ["plan_id", "enforcement", "spend_cap_minor"])
def test_a_null_choice_is_refused_and_changes_nothing(aws, tenant: NewTenant, field: str):
    # (the contract fuzzer found {"enforcement": null} stored as no enforcement: a 500 later)
    acme = tenant("Acme")
    refused = choose(acme, **{field: None})
    assert refused.status == 422 and refused.error_code == "validation_failed"
    account = api(BILLING, "GET", "/v1/billing/account", caller=acme.owner).json
    assert (account["plan_id"], account["enforcement"], account["version"]) == (
        "free",
        "hard_stop",
        0,
    )


def test_only_managers_change_the_plan(aws, tenant: NewTenant):
    acme = tenant("Acme")
    member = acme.key("member")
    refused = api(BILLING, "PATCH", "/v1/billing/account", {"plan_id": "pro"}, caller=member)
    assert refused.status == 403
    preview = api(BILLING, "GET", "/v1/billing/invoice-preview", caller=member)
    assert preview.status == 403


def test_a_hard_stop_tenant_past_its_quota_gets_429_and_nothing_is_written(
    aws, clinic: Clinic, frozen_window, published
):
    # Given the free plan edited to include 2 messages, and a tenant that used them
    set_plan("free", included_messages=2)
    conversation, token = clinic.begin()
    for _ in range(2):
        clinic.answer(conversation, token, "When are you open on Saturdays?")
    before = clinic.read(conversation)

    # When the visitor asks a third question
    refused = clinic.ask(conversation, token, "Do you accept cards?")

    # Then it is refused before any work, with when the quota resets, and nothing was stored
    assert refused.status == 429, refused
    assert refused.error_code == "quota_exceeded"
    details = refused.json["error"]["details"]
    assert details["scope"] == "tenant" and details["limit"] == 2
    assert details["period"] == period_now() and details["enforcement"] == "hard_stop"
    assert int(refused.headers["Retry-After"]) > 0
    assert clinic.read(conversation)["messages"] == before["messages"]
    assert len(published.of(clinic.tenant.id, "MessageAnswered")) == 2


def test_overage_with_a_spend_cap_answers_past_the_quota_then_gets_402(
    aws, clinic: Clinic, frozen_window
):
    # Given pro edited to include 1 message at 2 cents beyond, and a cap that pays for 2 more
    set_plan("pro", included_messages=1, overage_message_minor=2)
    chosen = choose(clinic.tenant, plan_id="pro", enforcement="overage", spend_cap_minor=4)
    assert chosen.status == 200, chosen
    conversation, token = clinic.begin()

    # When the visitor asks four questions
    statuses = [
        clinic.ask(conversation, token, "When are you open on Saturdays?") for _ in range(4)
    ]

    # Then the included one and the two the cap pays for are answered, the fourth is a 402
    assert [r.status for r in statuses] == [201, 201, 201, 402]
    assert statuses[3].error_code == "spend_cap_reached"
    assert statuses[3].json["error"]["details"]["limit"] == 3

    # And the invoice preview bills the fee and the two overage messages
    count_usage(aws)
    preview = api(BILLING, "GET", "/v1/billing/invoice-preview", caller=clinic.tenant.owner)
    assert preview.status == 200, preview
    lines = preview.json["lines"]
    assert lines[0]["amount_minor"] == 4900
    assert (lines[1]["quantity"], lines[1]["amount_minor"]) == (2, 4)
    assert preview.json["total_minor"] == 4904 and not preview.json["capped"]


def test_raising_the_plan_lets_a_stopped_tenant_answer_again(aws, clinic: Clinic, frozen_window):
    set_plan("free", included_messages=1)
    conversation, token = clinic.begin()
    clinic.answer(conversation, token, "When are you open on Saturdays?")
    assert clinic.ask(conversation, token, "Do you accept cards?").status == 429

    assert choose(clinic.tenant, plan_id="pro").status == 200
    from agenthub import environment

    environment.reset()  # other environments see the change within the allowance's 30 s
    assert clinic.ask(conversation, token, "Do you accept cards?").status == 201


def test_warnings_at_80_and_100_percent_are_published_once_and_mailed(
    aws, clinic: Clinic, frozen_window
):
    # Given a billing email, and the free plan edited to include 5 messages
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    set_plan("free", included_messages=5)
    assert choose(clinic.tenant, billing_email="owner@acme-dental.example").status == 200
    conversation, token = clinic.begin()

    # When the tenant uses 4 (80%), then 5 (100%) messages, each counted as it happens
    published: list[dict[str, Any]] = []
    for _ in range(5):
        clinic.answer(conversation, token, "When are you open on Saturdays?")
        count_usage(aws)
    count_usage(aws)  # the warnings' own events come back through the bus to be mailed
    records = h.PublishedEvents(aws.audit_queue_url, aws.table_name)
    published = [e["detail"] for e in records.of(clinic.tenant.id, "UsageThresholdReached")]

    # Then one warning per threshold, in order, and one email each to the billing address
    assert [(e["data"]["percent"], e["data"]["used"]) for e in published] == [(80, 4), (100, 5)]
    backend = ses_backends[DEFAULT_ACCOUNT_ID][h.REGION]
    sent = [message_from_string(m.raw_data) for m in backend.sent_messages]
    mails = [m for m in sent if m["To"] == "owner@acme-dental.example"]
    assert len(mails) == 2
    assert "used up" in mails[1]["Subject"]


# ---------------------------------------------------------------------------- isolation


def test_another_tenants_agent_usage_is_not_found(aws, clinic: Clinic, tenant: NewTenant):
    other = tenant("Other")
    path = f"/v1/billing/usage/agents/{clinic.agent['id']}"
    assert api(BILLING, "GET", path, caller=other.owner).status == 404
    own = api(BILLING, "GET", path, caller=clinic.tenant.owner)
    assert own.status == 200, own


def test_usage_of_one_tenant_never_shows_anothers(aws, clinic: Clinic, tenant: NewTenant):
    conversation, token = clinic.begin()
    clinic.answer(conversation, token, "When are you open on Saturdays?")
    count_usage(aws)
    other = usage(tenant("Other"))
    assert other["totals"]["messages"] == 0 and other["agents"] == [] and other["days"] == []


def test_a_bad_period_is_a_400(aws, tenant: NewTenant):
    acme = tenant("Acme")
    response = api(
        BILLING, "GET", "/v1/billing/usage", caller=acme.owner, query={"period": "2025-13"}
    )
    assert response.status == 400 and response.error_code == "bad_request"


def test_counting_a_message_event_costs_two_dynamodb_calls_and_no_eventbridge(
    aws, clinic: Clinic, aws_calls
):
    # Given a warm consumer (the allowance cached) and two messages' events in the queue
    conversation, token = clinic.begin()
    for _ in range(2):
        clinic.answer(conversation, token, "When are you open on Saturdays?")
    h.relay_outbox(aws.table_name)
    messages = [m for m in h.take_messages(queue_url(aws)) if "MessageAnswered" in m["Body"]]
    h.invoke(CONSUMER, h.sqs_event_from_messages(messages[:1]))

    # When the second is counted
    aws_calls.clear()
    h.invoke(CONSUMER, h.sqs_event_from_messages(messages[1:2]))

    # Then: the transaction (marker + counters) and the period total for the warnings
    print("AWS calls per counted message event:", aws_calls.calls)
    assert aws_calls.of("dynamodb") == ["TransactWriteItems", "GetItem"]
    assert aws_calls.of("events") == []


def test_bytes_of_documents_stored_follow_indexing_reindexing_and_deletion(
    aws, clinic: Clinic, published
):
    # Given the clinic's document, indexed: its event says what the bucket keeps of it
    count_usage(aws)
    [indexed] = [e["detail"]["data"] for e in published.of(clinic.tenant.id, "DocumentIndexed")]
    stored = indexed["stored_bytes"]
    assert stored > len(CLINIC.encode())  # the source, and its chunks
    first = usage(clinic.tenant)
    assert first["stored_bytes"] == stored == first["totals"]["storage_bytes"]
    assert first["agents"][0]["counts"]["storage_bytes"] == stored
    agent_usage = api(
        BILLING,
        "GET",
        f"/v1/billing/usage/agents/{clinic.agent['id']}",
        caller=clinic.tenant.owner,
    )
    assert agent_usage.json["stored_bytes"] == stored

    def deliver(kind: str, **data: Any) -> None:
        envelope = h.eventbridge_envelope(
            kind,
            tenant_id=clinic.tenant.id,
            occurred_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            source="agenthub.knowledge",
            data={"agent_id": clinic.agent["id"], "document_id": clinic.document_id, **data},
        )
        assert h.invoke(CONSUMER, h.sqs_event([json.dumps(envelope)])) == {"batchItemFailures": []}

    # When the same document is indexed again, now 100 bytes larger
    sizes = {"index_version": 2, "pages": 0, "characters": 1, "chunks": 1, "embedding_tokens": 0}
    deliver("DocumentIndexed", **sizes, stored_bytes=stored + 100)
    # Then the ledger counts the change, not the document twice
    assert usage(clinic.tenant)["stored_bytes"] == stored + 100

    # When the tenant deletes it (the real knowledge route and its DocumentDeleted event)
    path = f"/v1/agents/{clinic.agent['id']}/documents/{clinic.document_id}"
    assert api(h.KNOWLEDGE, "DELETE", path, caller=clinic.tenant.owner).status == 202
    assert all(r == {"batchItemFailures": []} for r in count_usage(aws))
    # Then nothing is stored any more, and the period's net change is zero
    after = usage(clinic.tenant)
    assert after["stored_bytes"] == 0 and after["totals"]["storage_bytes"] == 0

    # And an index event of the deleted document arriving late stores nothing
    deliver("DocumentIndexed", **sizes, stored_bytes=500)
    assert usage(clinic.tenant)["stored_bytes"] == 0
