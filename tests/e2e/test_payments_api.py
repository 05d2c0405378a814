"""Payments end to end over HTTP: the local runtime's API Gateway, the payments functions in
their workers, moto, and the fake Stripe the runtime started. A visitor pays on the (fake)
hosted Checkout page; the fake signs and sends its webhooks to the gateway; the receiver
queues them; the consumer applies them; the relay and the bus carry PaymentSucceeded to the
audit log. Stripe replaying the event five times changes nothing more."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api, assert_error
from tests.e2e.support import bearer, eventually

pytestmark = pytest.mark.slow


def _fake(runtime: LocalRuntime, method: str, path: str, **body: Any) -> Any:
    response = requests.request(method, runtime.stripe.url + path, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _audit_types(api: Api, key: str, kind: str) -> list[dict[str, Any]]:
    entries = api.ok("GET", "/v1/audit-log", key, params={"limit": 200})["items"]
    return [e for e in entries if e.get("type") == kind]


def test_a_visitor_pays_on_checkout_and_the_webhook_confirms_it_once(runtime: LocalRuntime) -> None:
    api = Api(runtime)
    key, agent_id = runtime.seed["owner_key"], runtime.seed["agent_id"]
    # Given the demo tenant (connected to its fake Stripe account by the seed)
    assert api.ok("GET", "/v1/payments/stripe", key)["mode"] == "restricted_key"
    # When the agent sends a one-off payment and the visitor pays on the hosted page
    created = api.ok(
        "POST",
        "/v1/payment-requests",
        key,
        json={
            "agent_id": agent_id,
            "amount": {"amount_minor": 4500, "currency": "eur"},
            "description": "Whitening deposit",
        },
    )["payment"]
    page = requests.get(created["checkout_url"], timeout=30)
    assert page.status_code == 200 and "45.00 EUR" in page.text
    paid = requests.post(
        created["checkout_url"], data={"outcome": "paid"}, allow_redirects=False, timeout=30
    )
    assert paid.status_code == 303
    # Then the signed webhook, through the queue, marks it succeeded
    path = f"/v1/payments/{created['id']}"
    found = eventually(lambda: (p := api.ok("GET", path, key))["status"] == "succeeded" and p)
    assert found["payment_intent_id"]
    # And the event reaches the audit log once, even after five replays of the webhook
    completed = [
        e
        for e in _fake(runtime, "GET", "/_fake/events")["data"]
        if e["type"] == "checkout.session.completed"
        and e["data"]["object"]["id"] == created["checkout_session_id"]
    ]
    _fake(runtime, "POST", "/_fake/webhooks/replay", event_id=completed[0]["id"], times=5)
    _fake(runtime, "POST", "/_fake/webhooks/wait", timeout=20)
    eventually(lambda: len(_audit_types(api, key, "PaymentSucceeded")) >= 1)
    refund = api.ok("POST", f"{path}/refunds", key, json={"amount_minor": 500})
    assert refund["status"] == "partially_refunded"
    eventually(lambda: _audit_types(api, key, "PaymentRefunded"))
    succeeded = [
        e
        for e in _audit_types(api, key, "PaymentSucceeded")
        if e["subject"].endswith(created["id"])
    ]
    assert len(succeeded) == 1
    assert api.ok("GET", path, key)["version"] == found["version"] + 1  # the refund only


def test_a_forged_webhook_is_refused_at_the_gateway(runtime: LocalRuntime) -> None:
    api = Api(runtime)
    tenant_id = runtime.seed["tenant_id"]
    body = '{"id":"evt_forged","type":"checkout.session.completed","data":{"object":{}}}'
    response = api.call(
        "POST",
        f"/v1/webhooks/stripe/{tenant_id}",
        headers={"Stripe-Signature": "t=1700000000,v1=00", "Content-Type": "application/json"},
        data=body,
    )
    assert_error(response, 400)


def test_stripe_down_is_a_503_with_retry_after(runtime: LocalRuntime) -> None:
    api = Api(runtime)
    key, agent_id = runtime.seed["owner_key"], runtime.seed["agent_id"]
    _fake(runtime, "POST", "/_fake/faults", status=503, times=3, path_prefix="/v1/checkout")
    response = api.call(
        "POST",
        "/v1/payment-requests",
        headers=bearer(key),
        json={
            "agent_id": agent_id,
            "amount": {"amount_minor": 1000, "currency": "eur"},
            "description": "Consultation",
        },
    )
    assert_error(response, 503, "payment_provider_unavailable")
    assert int(response.headers["Retry-After"]) >= 1
