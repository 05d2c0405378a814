"""Payments through the real handlers, under moto, against the fake Stripe over HTTP with the
real ``stripe`` SDK.

Webhooks travel as in production, one step at a time: the fake signs and POSTs each event to a
capturing server (standing in for API Gateway's address), the test hands each delivery to the
receiver function exactly as received, and the messages the receiver queued on the template's
Stripe events queue go to the consumer function.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infra.local.fakestripe import FakeStripe
from tests.integration import harness

PAYMENTS = "payments.handlers.api"
WEBHOOK = "payments.handlers.webhook"
CONSUMER = "payments.handlers.on_stripe_event"
PLATFORM_KEY = "sk_test_platform_0123456789abcdef"
CONNECT_SECRET = "whsec_connect_0123456789abcdef0123"


@dataclass
class Capture:
    """Stands in for our API's public address: records what Stripe POSTs."""

    deliveries: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def take(self) -> list[tuple[str, dict[str, str], str]]:
        with self.lock:
            taken, self.deliveries[:] = list(self.deliveries), []
        return taken


def _capture_server(capture: Capture) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            with capture.lock:
                capture.deliveries.append((self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    capture.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


@dataclass
class Stripe:
    fake: FakeStripe
    capture: Capture
    queue_url: str

    def deliver(self) -> list[harness.HttpResponse]:
        """Hand every webhook the fake sent to the receiver, then the queued messages to the
        consumer; returns the receiver's responses."""
        assert self.fake.webhooks.wait_idle(10)
        responses = []
        for path, headers, body in self.capture.take():
            wanted = {k: v for k, v in headers.items() if k.lower() == "stripe-signature"}
            responses.append(harness.api(WEBHOOK, "POST", path, raw_body=body, headers=wanted))
        self.consume()
        return responses

    def consume(self) -> list[dict[str, Any]]:
        """Run the consumer over the queue until it is empty; its batch responses."""
        results = []
        while messages := harness.take_messages(self.queue_url):
            event = harness.sqs_event_from_messages(messages)
            results.append(harness.invoke(CONSUMER, event))
        return results


@pytest.fixture(scope="module")
def stripe(aws: harness.World) -> Iterator[Stripe]:
    capture = Capture()
    server = _capture_server(capture)
    fake = FakeStripe(retry_delays=(0.2,)).start()
    sqs, secrets = harness.aws_client("sqs"), harness.aws_client("secretsmanager")
    queue_url = sqs.create_queue(
        QueueName=harness.sub(harness.resource("StripeEventsQueue")["Properties"]["QueueName"])
    )["QueueUrl"]
    platform = secrets.create_secret(
        Name=harness.sub(harness.resource("StripePlatformSecret")["Properties"]["Name"]),
        SecretString=json.dumps(
            {"api_key": PLATFORM_KEY, "connect_webhook_secret": CONNECT_SECRET}
        ),
    )["ARN"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STRIPE_API_BASE", fake.url)
        env.setenv("STRIPE_PLATFORM_SECRET_ARN", platform)
        env.setenv("STRIPE_TENANT_SECRET_PREFIX", f"agenthub/{harness.STAGE}/stripe/tenants/")
        env.setenv("STRIPE_EVENTS_QUEUE_URL", queue_url)
        env.setenv("PUBLIC_API_URL", capture.url)
        yield Stripe(fake, capture, queue_url)
    fake.stop()
    server.shutdown()


@pytest.fixture(autouse=True)
def clean_stripe(stripe: Stripe) -> Iterator[None]:
    from agenthub.breaker import reset_breakers
    from payments.logic.stripe_api import reset_clients

    yield
    stripe.fake.reset()
    stripe.capture.take()
    harness.take_messages(stripe.queue_url)
    reset_breakers()
    reset_clients()


def _connected(stripe: Stripe, key: str = "rk_test_tenant_0123456789abcdef") -> harness.Tenant:
    tenant = harness.create_tenant()
    response = harness.api(
        PAYMENTS, "PUT", "/v1/payments/stripe", {"restricted_key": key}, caller=tenant.owner
    )
    assert response.status == 200, response
    return tenant


def _one_off(tenant: harness.Tenant, agent_id: str, **extra: Any) -> harness.HttpResponse:
    body = {
        "agent_id": agent_id,
        "amount": {"amount_minor": 4500, "currency": "EUR"},
        "description": "Whitening deposit",
        **extra,
    }
    return harness.api(PAYMENTS, "POST", "/v1/payment-requests", body, caller=tenant.owner)


def _payment(tenant: harness.Tenant, payment_id: str) -> dict[str, Any]:
    response = harness.api(PAYMENTS, "GET", f"/v1/payments/{payment_id}", caller=tenant.owner)
    assert response.status == 200, response
    result: dict[str, Any] = response.json
    return result


def _outbox(aws: harness.World, detail_type: str) -> list[dict[str, Any]]:
    """The domain events of that type staged in the outbox (what the relay will publish)."""
    images = [r["dynamodb"]["NewImage"] for r in harness.outbox_records(aws.table_name)]
    return [json.loads(i["detail"]["S"]) for i in images if i["detail_type"]["S"] == detail_type]


# ---------------------------------------------------------------------------- connection


def test_connecting_a_restricted_key_creates_our_webhook_endpoint_and_never_shows_the_key(
    stripe: Stripe,
) -> None:
    # Given a tenant that connects its Stripe account with a restricted key
    key = "rk_test_tenant_connect_0123456789"
    tenant = _connected(stripe, key)
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
        SecretId=f"agenthub/{harness.STAGE}/stripe/tenants/{tenant.id}"
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
    tenant = _connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    created = _one_off(tenant, agent["id"], conversation_id="cv_1")
    assert created.status == 201, created
    payment = created.json["payment"]
    assert payment["status"] == "open" and payment["amount_minor"] == 4500
    assert payment["currency"] == "eur" and payment["checkout_url"].startswith(stripe.fake.url)
    # When the visitor pays on Stripe's page, the payment is still open until the webhook
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    assert _payment(tenant, payment["id"])["status"] == "open"
    responses = stripe.deliver()
    # Then the webhook confirms it, with one PaymentSucceeded in minor units and currency
    assert responses and all(r.status == 200 for r in responses)
    assert _payment(tenant, payment["id"])["status"] == "succeeded"
    succeeded = _outbox(aws, "PaymentSucceeded")
    assert [e["data"]["amount_minor"] for e in succeeded] == [4500]
    assert succeeded[0]["data"]["currency"] == "eur"


def test_five_replays_of_one_event_make_one_effect(stripe: Stripe, aws: harness.World) -> None:
    tenant = _connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    stripe.deliver()
    version = _payment(tenant, payment["id"])["version"]
    # When Stripe sends the completed event five more times
    (completed,) = stripe.fake.events("checkout.session.completed")
    stripe.fake.webhooks.replay(completed["id"], times=5)
    responses = stripe.deliver()
    # Then each is accepted, and nothing changes a second time
    assert len(responses) == 5 and all(r.status == 200 for r in responses)
    assert _payment(tenant, payment["id"])["version"] == version
    assert len(_outbox(aws, "PaymentSucceeded")) == 1


def test_async_events_in_reverse_order_end_in_the_right_state(
    stripe: Stripe, aws: harness.World
) -> None:
    # Given a bank debit: completed (unpaid) then async_payment_succeeded
    tenant = _connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.webhooks.hold()
    stripe.fake.complete_checkout(payment["checkout_session_id"], outcome="async_pending")
    stripe.fake.settle_async_payment(payment["checkout_session_id"], succeeded=True)
    # When Stripe delivers them newest first
    stripe.fake.webhooks.release(order="reverse")
    stripe.deliver()
    # Then the payment succeeded once and the older event did not move it back
    assert _payment(tenant, payment["id"])["status"] == "succeeded"
    assert len(_outbox(aws, "PaymentSucceeded")) == 1


def test_a_failed_async_payment_fails_the_payment(stripe: Stripe, aws: harness.World) -> None:
    tenant = _connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"], outcome="async_pending")
    stripe.deliver()
    assert _payment(tenant, payment["id"])["status"] == "processing"
    stripe.fake.settle_async_payment(payment["checkout_session_id"], succeeded=False)
    stripe.deliver()
    found = _payment(tenant, payment["id"])
    assert found["status"] == "failed" and found["failure_reason"] == "async_payment_failed"
    assert [e["data"]["reason"] for e in _outbox(aws, "PaymentFailed")] == ["async_payment_failed"]


def test_the_same_idempotency_key_header_returns_the_same_payment(stripe: Stripe) -> None:
    tenant = _connected(stripe)
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
    tenant = _connected(stripe)
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
    tenant = _connected(stripe)
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

    tenant = _connected(stripe)
    secret = json.loads(
        harness.aws_client("secretsmanager").get_secret_value(
            SecretId=f"agenthub/{harness.STAGE}/stripe/tenants/{tenant.id}"
        )["SecretString"]
    )["webhook_secret"]
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
    tenant = _connected(stripe)
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
    tenant = _connected(stripe)
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
    assert _payment(tenant, payment["id"])["refunded_minor"] == 4500
    refunded = _outbox(aws, "PaymentRefunded")
    assert sorted(e["data"]["refunded_minor"] for e in refunded) == [1500, 3000]
    assert {e["data"]["currency"] for e in refunded} == {"eur"}


def test_a_refund_made_in_stripes_dashboard_reaches_the_payment(
    stripe: Stripe, aws: harness.World
) -> None:
    import stripe as stripe_sdk

    tenant = _connected(stripe)
    agent = tenant.agent(allowed_origins=[harness.ALLOWED_ORIGIN])
    payment = _one_off(tenant, agent["id"]).json["payment"]
    stripe.fake.complete_checkout(payment["checkout_session_id"])
    stripe.deliver()
    intent = _payment(tenant, payment["id"])["payment_intent_id"]
    dashboard = stripe_sdk.StripeClient(
        "rk_test_tenant_0123456789abcdef", base_addresses={"api": stripe.fake.url}
    )
    dashboard.v1.refunds.create({"payment_intent": intent, "amount": 500})
    stripe.deliver()
    assert _payment(tenant, payment["id"])["refunded_minor"] == 500
    assert [e["data"]["reason"] for e in _outbox(aws, "PaymentRefunded")] == ["stripe"]


# ---------------------------------------------------------------------------- links, Connect


def test_each_payment_of_a_reusable_link_becomes_a_payment(stripe: Stripe) -> None:
    tenant = _connected(stripe)
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
    assert _payment(tenant, payment["id"])["status"] == "succeeded"
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
    tenant = _connected(stripe)
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
    tenant = _connected(stripe)
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
