"""Payments through the real handlers, under moto, against the fake Stripe over HTTP with the
real ``stripe`` SDK.

Webhooks travel as in production, one step at a time: the fake signs and POSTs each event to a
capturing server (standing in for API Gateway's address), the test hands each delivery to the
receiver function exactly as received, and the messages the receiver queued on the template's
Stripe events queue go to the consumer function.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration import harness
from tests.integration.stripe_world import (
    CONNECT_SECRET,
    CONSUMER,
    PAYMENTS,
    PLATFORM_KEY,
    WEBHOOK,
    Stripe,
    connected,
    outbox,
    tenant_secret_id,
)
from tests.integration.stripe_world import payment as read_payment

pytestmark = pytest.mark.usefixtures("clean_stripe")


def _one_off(tenant: harness.Tenant, agent_id: str, **extra: Any) -> harness.HttpResponse:
    body = {
        "agent_id": agent_id,
        "amount": {"amount_minor": 4500, "currency": "EUR"},
        "description": "Whitening deposit",
        **extra,
    }
    return harness.api(PAYMENTS, "POST", "/v1/payment-requests", body, caller=tenant.owner)


# ---------------------------------------------------------------------------- connection


def test_connecting_a_restricted_key_creates_our_webhook_endpoint_and_never_shows_the_key(
    stripe: Stripe,
) -> None:
    # Given a tenant that connects its Stripe account with a restricted key
    key = "rk_test_tenant_connect_0123456789"
    tenant = connected(stripe, key)
    # When it reads its connection
    shown = harness.api(PAYMENTS, "GET", "/v1/payments/stripe", caller=tenant.owner)
    # Then the mode and the endpoint are shown, never the key
    assert shown.status == 200
    assert shown.json["mode"] == "restricted_key" and shown.json["livemode"] is False
    assert key not in shown.body
    endpoints = stripe.fake.store.account_for_key(key).of_type("webhook_endpoint")
    assert [e["url"] for e in endpoints] == [f"{stripe.capture.url}/v1/webhooks/stripe/{tenant.id}"]
    # And the key sits in the tenant's secret
    secret = harness.aws_client("secretsmanager").get_secret_value(
        SecretId=tenant_secret_id(tenant.id)
    )
    assert json.loads(secret["SecretString"])["api_key"] == key


def test_an_account_secret_key_is_refused_in_favour_of_a_restricted_key(stripe: Stripe) -> None:
    tenant = harness.create_tenant()
    response = harness.api(
        PAYMENTS,
        "PUT",
        "/v1/payments/stripe",
        {"restricted_key": "sk_test_0123456789abcdefghij"},
        caller=tenant.owner,
    )
    assert response.status == 422
    assert "restricted key" in response.body
    assert stripe.fake.count_requests("POST", "/v1/") == 0


def test_a_member_cannot_connect_stripe(stripe: Stripe) -> None:
    tenant = harness.create_tenant()
    response = harness.api(
        PAYMENTS,
        "PUT",
        "/v1/payments/stripe",
        {"restricted_key": "rk_test_0123456789abcdefghij"},
        caller=tenant.key("member"),
    )
    assert response.status == 403


def test_a_payment_request_before_connecting_stripe_says_so(stripe: Stripe) -> None:
    tenant = harness.create_tenant()
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    response = _one_off(tenant, agent["id"])
    assert response.status == 409
    assert response.error_code == "payments_not_configured"


# ---------------------------------------------------------------------------- one-off payments


def test_a_one_off_payment_is_confirmed_only_by_the_signed_webhook(
    stripe: Stripe, aws: harness.World
) -> None:
    # Given an agent's one-off payment request
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    created = _one_off(tenant, agent["id"], conversation_id="cv_1")
    assert created.status == 201, created
    payment = created.json["payment"]
    assert payment["status"] == "open" and payment["amount_minor"] == 4500
    assert payment["currency"] == "eur" and payment["checkout_url"].startswith(stripe.fake.url)
    # When the visitor pays on Stripe's page, the payment is still open until the webhook
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    assert read_payment(tenant, payment["id"])["status"] == "open"
    responses = stripe.deliver()
    # Then the webhook confirms it, with one PaymentSucceeded in minor units and currency
    assert responses and all(r.status == 200 for r in responses)
    assert read_payment(tenant, payment["id"])["status"] == "succeeded"
    succeeded = outbox(aws, "PaymentSucceeded")
    assert [e["data"]["amount_minor"] for e in succeeded] == [4500]
    assert succeeded[0]["data"]["currency"] == "eur"


def test_five_replays_of_one_event_make_one_effect(stripe: Stripe, aws: harness.World) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    stripe.deliver()
    version = read_payment(tenant, payment["id"])["version"]
    # When Stripe sends the completed event five more times
    (completed,) = stripe.fake.events("checkout.session.completed")
    stripe.fake.webhooks.replay(completed["id"], times=5)
    responses = stripe.deliver()
    # Then each is accepted, and nothing changes a second time
    assert len(responses) == 5 and all(r.status == 200 for r in responses)
    assert read_payment(tenant, payment["id"])["version"] == version
    assert len(outbox(aws, "PaymentSucceeded")) == 1


def test_async_events_in_reverse_order_end_in_the_right_state(
    stripe: Stripe, aws: harness.World
) -> None:
    # Given a bank debit: completed (unpaid) then async_payment_succeeded
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.webhooks.hold()
    stripe.fake.complete_checkout(payment["checkout_session_id"], outcome="async_pending")
    stripe.fake.settle_async_payment(payment["checkout_session_id"], succeeded=True)
    # When Stripe delivers them newest first
    stripe.fake.webhooks.release(order="reverse")
    stripe.deliver()
    # Then the payment succeeded once and the older event did not move it back
    assert read_payment(tenant, payment["id"])["status"] == "succeeded"
    assert len(outbox(aws, "PaymentSucceeded")) == 1


def test_a_failed_async_payment_fails_the_payment(stripe: Stripe, aws: harness.World) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"], outcome="async_pending")
    stripe.deliver()
    assert read_payment(tenant, payment["id"])["status"] == "processing"
    stripe.fake.settle_async_payment(payment["checkout_session_id"], succeeded=False)
    stripe.deliver()
    found = read_payment(tenant, payment["id"])
    assert found["status"] == "failed" and found["failure_reason"] == "async_payment_failed"
    assert [e["data"]["reason"] for e in outbox(aws, "PaymentFailed")] == ["async_payment_failed"]


def test_the_same_idempotency_key_header_returns_the_same_payment(stripe: Stripe) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    headers = {"Idempotency-Key": "order-17"}
    body = {
        "agent_id": agent["id"],
        "amount": {"amount_minor": 900, "currency": "usd"},
        "description": "Consultation",
    }
    first = harness.api(
        PAYMENTS, "POST", "/v1/payment-requests", body, caller=tenant.owner, headers=headers
    )
    second = harness.api(
        PAYMENTS, "POST", "/v1/payment-requests", body, caller=tenant.owner, headers=headers
    )
    assert first.status == second.status == 201
    assert first.json["payment"]["id"] == second.json["payment"]["id"]
    assert stripe.fake.count_requests("POST", "/v1/checkout/sessions") == 1


# ---------------------------------------------------------------------------- resilience


def test_stripe_down_is_a_503_with_retry_after_and_writes_nothing(
    stripe: Stripe, aws: harness.World
) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    stripe.fake.add_fault(status=503, times=None, path_prefix="/v1/checkout")
    response = _one_off(tenant, agent["id"])
    assert response.status == 503 and response.error_code == "payment_provider_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    # three attempts (bounded retries), then nothing of it in our table
    assert stripe.fake.count_requests("POST", "/v1/checkout/sessions") == 3
    listed = harness.api(PAYMENTS, "GET", "/v1/payments", caller=tenant.owner)
    assert listed.json["items"] == []


def test_after_repeated_failures_the_breaker_answers_at_once(stripe: Stripe) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    stripe.fake.add_fault(drop=True, times=None, path_prefix="/v1/checkout")
    for _ in range(5):
        assert _one_off(tenant, agent["id"]).status == 503
    calls = stripe.fake.count_requests("POST", "/v1/checkout/sessions")
    started = time.monotonic()
    response = _one_off(tenant, agent["id"])
    assert response.status == 503 and int(response.headers["Retry-After"]) > 1
    assert stripe.fake.count_requests("POST", "/v1/checkout/sessions") == calls
    assert time.monotonic() - started < 1.0  # no retries while the breaker is open


# ---------------------------------------------------------------------------- webhooks at the door


def test_a_bad_signature_or_a_stale_timestamp_is_400_and_queues_nothing(stripe: Stripe) -> None:
    from payments.logic.signatures import sign

    tenant = connected(stripe)
    stored = harness.aws_client("secretsmanager").get_secret_value(
        SecretId=tenant_secret_id(tenant.id)
    )
    secret = json.loads(stored["SecretString"])["webhook_secret"]
    body = json.dumps({"id": "evt_x", "type": "checkout.session.completed", "data": {}})
    path = f"/v1/webhooks/stripe/{tenant.id}"
    cases = {
        "wrong secret": sign(body.encode(), "whsec_someone_else", int(time.time())),
        "stale": sign(body.encode(), secret, int(time.time()) - 301),
        "no header": None,
    }
    for case, header in cases.items():
        response = harness.api(
            WEBHOOK, "POST", path, raw_body=body, headers={"Stripe-Signature": header}
        )
        assert response.status == 400, case
    tampered = harness.api(
        WEBHOOK,
        "POST",
        path,
        raw_body=body.replace("evt_x", "evt_y"),
        headers={"Stripe-Signature": sign(body.encode(), secret, int(time.time()))},
    )
    assert tampered.status == 400
    assert harness.take_messages(stripe.queue_url) == []


def test_the_receiver_makes_one_aws_call_and_the_consumer_two(
    stripe: Stripe, aws_calls: harness.CallLog
) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    assert stripe.fake.webhooks.wait_idle(10)
    (path, headers, body), *_ = stripe.capture.take()
    # Warm: the secrets were read once already (they are cached for 5 minutes)
    harness.api(WEBHOOK, "POST", path, raw_body=body, headers={"Stripe-Signature": "t=1,v1=0"})
    aws_calls.clear()
    signature = {"Stripe-Signature": headers["Stripe-Signature"]}
    assert harness.api(WEBHOOK, "POST", path, raw_body=body, headers=signature).status == 200
    receiver = list(aws_calls.calls)
    messages = harness.take_messages(stripe.queue_url)
    aws_calls.clear()
    harness.invoke(CONSUMER, harness.sqs_event_from_messages(messages))
    consumer = [c for c in aws_calls.calls if c[0] != "secretsmanager"]
    print(f"\nAWS calls per webhook: receiver {receiver}, consumer {aws_calls.calls}")
    assert receiver == [("sqs", "SendMessage")]
    assert consumer == [("dynamodb", "BatchGetItem"), ("dynamodb", "TransactWriteItems")]


# ---------------------------------------------------------------------------- refunds


def test_refunds_in_parts_then_the_rest_and_their_webhooks_change_nothing(
    stripe: Stripe, aws: harness.World
) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    stripe.deliver()
    path = f"/v1/payments/{payment['id']}/refunds"
    partial = harness.api(PAYMENTS, "POST", path, {"amount_minor": 1500}, caller=tenant.owner)
    assert partial.status == 201, partial
    assert partial.json["status"] == "partially_refunded"
    assert partial.json["refunded_minor"] == 1500
    too_much = harness.api(PAYMENTS, "POST", path, {"amount_minor": 3001}, caller=tenant.owner)
    assert too_much.status == 409
    rest = harness.api(PAYMENTS, "POST", path, {}, caller=tenant.owner)
    assert rest.status == 201 and rest.json["status"] == "refunded"
    stripe.deliver()  # refund.created for both: already recorded
    assert read_payment(tenant, payment["id"])["refunded_minor"] == 4500
    refunded = outbox(aws, "PaymentRefunded")
    assert sorted(e["data"]["refunded_minor"] for e in refunded) == [1500, 3000]
    assert {e["data"]["currency"] for e in refunded} == {"eur"}


def test_a_refund_made_in_stripes_dashboard_reaches_the_payment(
    stripe: Stripe, aws: harness.World
) -> None:
    import stripe as stripe_sdk

    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    stripe.deliver()
    intent = read_payment(tenant, payment["id"])["payment_intent_id"]
    dashboard = stripe_sdk.StripeClient(
        "rk_test_tenant_0123456789abcdef", base_addresses={"api": stripe.fake.url}
    )
    dashboard.v1.refunds.create({"payment_intent": intent, "amount": 500})
    stripe.deliver()
    assert read_payment(tenant, payment["id"])["refunded_minor"] == 500
    assert [e["data"]["reason"] for e in outbox(aws, "PaymentRefunded")] == ["stripe"]


# ---------------------------------------------------------------------------- links, Connect


def test_each_payment_of_a_reusable_link_becomes_a_payment(stripe: Stripe) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    created = harness.api(
        PAYMENTS,
        "POST",
        "/v1/payment-requests",
        {
            "agent_id": agent["id"],
            "amount": {"amount_minor": 2500, "currency": "eur"},
            "description": "Gift card",
            "reusable": True,
        },
        caller=tenant.owner,
    )
    assert created.status == 201, created
    link = created.json["payment_link"]
    assert link["url"].startswith(stripe.fake.url) and link["amount_minor"] == 2500
    stripe.fake.pay_payment_link(link["stripe_link_id"])
    stripe.fake.pay_payment_link(link["stripe_link_id"])
    stripe.deliver()
    payments = harness.api(PAYMENTS, "GET", "/v1/payments", caller=tenant.owner).json["items"]
    assert [(p["kind"], p["status"], p["link_id"]) for p in payments] == [
        ("link", "succeeded", link["id"])
    ] * 2


def test_a_connect_account_pays_through_the_platform_and_a_foreign_account_is_ignored(
    stripe: Stripe, aws: harness.World
) -> None:
    import stripe as stripe_sdk

    platform = stripe_sdk.StripeClient(PLATFORM_KEY, base_addresses={"api": stripe.fake.url})
    platform.v1.webhook_endpoints.create(
        {"url": f"{stripe.capture.url}/v1/webhooks/stripe", "connect": True}
    )
    # the endpoint's secret is what the platform secret holds
    endpoint = stripe.fake.store.account_for_key(PLATFORM_KEY).of_type("webhook_endpoint")[0]
    endpoint["secret"] = CONNECT_SECRET
    account = platform.v1.accounts.create({"type": "standard"})
    tenant = harness.create_tenant()
    connected = harness.api(
        PAYMENTS, "PUT", "/v1/payments/stripe", {"account_id": account.id}, caller=tenant.owner
    )
    assert connected.status == 200 and connected.json["account_id"] == account.id
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    stripe.deliver()
    assert read_payment(tenant, payment["id"])["status"] == "succeeded"
    # Another connected account creates a session claiming this tenant in its metadata
    other = platform.v1.accounts.create({"type": "standard"})
    forged = platform.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "success_url": "https://x.example/ok",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 100,
                        "product_data": {"name": "x"},
                    },
                    "quantity": 1,
                }
            ],
            "metadata": {"tenant_id": tenant.id, "kind": "one_off", "payment_id": "pay_forged"},
        },
        {"stripe_account": other.id},
    )
    stripe.fake.complete_checkout(forged.id)
    stripe.deliver()
    assert (
        harness.api(PAYMENTS, "GET", "/v1/payments/pay_forged", caller=tenant.owner).status == 404
    )


def test_an_unconnected_account_id_is_refused(stripe: Stripe) -> None:
    tenant = harness.create_tenant()
    response = harness.api(
        PAYMENTS,
        "PUT",
        "/v1/payments/stripe",
        {"account_id": "acct_0123456789abcdef"},
        caller=tenant.owner,
    )
    assert response.status == 422


# ---------------------------------------------------------------------------- isolation, widget


def test_another_tenants_payment_is_a_404(stripe: Stripe) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    other = harness.create_tenant("Other")
    response = harness.api(PAYMENTS, "GET", f"/v1/payments/{payment['id']}", caller=other.owner)
    assert response.status == 404
    refund = harness.api(
        PAYMENTS, "POST", f"/v1/payments/{payment['id']}/refunds", {}, caller=other.owner
    )
    assert refund.status == 404


def test_the_widget_sees_its_payment_status_without_stripe_ids(stripe: Stripe) -> None:
    tenant = connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    widget = tenant.widget_key(agent["id"])
    path = f"/v1/public/agents/{agent['id']}/payments/{payment['id']}"
    seen = harness.api(
        PAYMENTS, "GET", path, caller=widget, headers={"Origin": harness.ALLOWED_ORIGIN}
    )
    assert seen.status == 200, seen
    assert seen.json["status"] == "open" and seen.json["checkout_url"]
    assert "checkout_session_id" not in seen.json and "tenant_id" not in seen.json
    other_agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    other_widget = tenant.widget_key(other_agent["id"])
    path = f"/v1/public/agents/{other_agent['id']}/payments/{payment['id']}"
    hidden = harness.api(
        PAYMENTS, "GET", path, caller=other_widget, headers={"Origin": harness.ALLOWED_ORIGIN}
    )
    assert hidden.status == 404
