"""Usage reporting to Stripe Billing Meters and the nightly reconciliation, through the real
job handlers against the fake Stripe (the same HTTP surface and SDK as production): meter
events with identifiers, a customer per tenant on the platform's account, no usage lost or
doubled when Stripe fails half way, and a lost event found and corrected by reconciliation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration import harness as h
from tests.integration.stripe_world import PLATFORM_KEY, Stripe, outbox

BILLING = "billing.handlers.api"
CONSUMER = "billing.handlers.on_domain_event"
REPORT = "billing.handlers.job_report_usage"
RECONCILE = "billing.handlers.job_reconcile"

pytestmark = pytest.mark.usefixtures("clean_stripe")


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def answered(tenant: h.Tenant, count: int) -> None:
    """``count`` MessageAnswered events of today, counted by the billing consumer."""
    bodies = [
        json.dumps(
            h.eventbridge_envelope(
                "MessageAnswered",
                tenant_id=tenant.id,
                occurred_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                source="agenthub.conversations",
                subject="conversation/cv_1",
                data={
                    "agent_id": "ag_1",
                    "conversation_id": "cv_1",
                    "message_id": f"msg_{n}",
                    "question_id": f"msg_q{n}",
                    "channel": "widget",
                    "model": "extractive",
                    "tokens_in": 10,
                    "tokens_out": 5,
                    "latency_ms": 3,
                    "cache_hit": False,
                    "abstained": False,
                    "citations": 1,
                },
            )
        )
        for n in range(count)
    ]
    assert h.invoke(CONSUMER, h.sqs_event(bodies)) == {"batchItemFailures": []}


def on_plan(tenant: h.Tenant, plan_id: str) -> None:
    response = h.api(
        BILLING, "PATCH", "/v1/billing/account", {"plan_id": plan_id}, caller=tenant.owner
    )
    assert response.status == 200, response


def meter_events(stripe: Stripe) -> list[dict[str, Any]]:
    account = stripe.fake.store.account_for_key(PLATFORM_KEY)
    return list(account.objects.get("_meter_events", {}).values())


def stripe_total(stripe: Stripe, tenant: h.Tenant) -> int:
    customer = customer_of(stripe, tenant)
    return sum(
        int(e["payload"]["value"]) for e in meter_events(stripe) if e["_customer"] == customer
    )


def customer_of(stripe: Stripe, tenant: h.Tenant) -> str:
    account = stripe.fake.store.account_for_key(PLATFORM_KEY)
    [customer] = [
        c for c in account.of_type("customer") if c["metadata"].get("tenant_id") == tenant.id
    ]
    return str(customer["id"])


def test_usage_is_reported_as_meter_events_once_and_only_the_new_part_later(
    aws, stripe: Stripe, tenant
):
    # Given a tenant on a paid plan with 3 answered messages today
    acme = tenant("Acme")
    on_plan(acme, "pro")
    answered(acme, 3)

    # When the hourly job runs
    result = h.invoke(REPORT, {})

    # Then Stripe holds one meter event of 3 for the tenant's new customer, within today
    assert result["quantity_reported"] == 3 and result["failed_tenants"] == 0
    [event] = meter_events(stripe)
    assert event["event_name"] == "agenthub_messages" and event["payload"]["value"] == "3"
    assert event["identifier"].startswith(f"ah-{acme.id}-{today()}-0-3")
    assert datetime.fromtimestamp(event["timestamp"], UTC).date().isoformat() == today()
    assert event["_customer"] == customer_of(stripe, acme)
    [reported] = outbox(aws, "UsageReported")
    assert reported["data"]["quantity"] == 3

    # When it runs again with nothing new, then more usage arrives and it runs once more
    assert h.invoke(REPORT, {})["quantity_reported"] == 0
    answered(acme, 2)
    assert h.invoke(REPORT, {})["quantity_reported"] == 2

    # Then Stripe's total is the ledger's, in two events
    assert len(meter_events(stripe)) == 2 and stripe_total(stripe, acme) == 5


def test_free_tenants_are_not_reported(aws, stripe: Stripe, tenant):
    answered(tenant("Free"), 4)
    assert h.invoke(REPORT, {})["quantity_reported"] == 0
    assert meter_events(stripe) == []


def test_a_report_stripe_failed_is_sent_again_with_its_identifier_and_never_doubled(
    aws, stripe: Stripe, tenant
):
    # Given usage, and a Stripe that fails every meter event for now
    acme = tenant("Acme")
    on_plan(acme, "business")
    answered(acme, 4)
    stripe.fake.add_fault(
        status=500, times=None, method="POST", path_prefix="/v1/billing/meter_events"
    )

    # When the job runs, the tenant's report fails (and is left in flight), others would go on
    failed = h.invoke(REPORT, {})
    assert failed["failed_tenants"] == 1 and meter_events(stripe) == []

    # When Stripe recovers and more usage came meanwhile
    stripe.fake.clear_faults()
    from agenthub import environment

    environment.reset()  # the breaker's cool-down, as a later run in a fresh environment
    answered(acme, 1)
    first = h.invoke(REPORT, {})
    second = h.invoke(REPORT, {})

    # Then the report in flight is sent with its identifier, then the rest: 5 in all
    assert (first["quantity_reported"], second["quantity_reported"]) == (4, 1)
    assert stripe_total(stripe, acme) == 5


def test_reconciliation_finds_an_event_stripe_lost_and_corrects_it(aws, stripe: Stripe, tenant):
    # Given usage reported to Stripe, and one meter event that Stripe then lost
    acme = tenant("Acme")
    on_plan(acme, "pro")
    answered(acme, 3)
    h.invoke(REPORT, {})
    answered(acme, 2)
    h.invoke(REPORT, {})
    events = stripe.fake.store.account_for_key(PLATFORM_KEY).objects["_meter_events"]
    lost = next(key for key, e in events.items() if e["payload"]["value"] == "3")
    del events[lost]

    # When the nightly reconciliation runs
    result = h.invoke(RECONCILE, {"days": [today()]})

    # Then it corrects the day with the difference, and a second run finds Stripe in step
    assert result["results"] == {"corrected": 1}
    assert stripe_total(stripe, acme) == 5
    assert h.invoke(RECONCILE, {"days": [today()]})["results"] == {"match": 1}
    assert h.invoke(REPORT, {})["quantity_reported"] == 0
