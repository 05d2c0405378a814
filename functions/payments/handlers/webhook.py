"""Stripe's webhook endpoints (no API key: the signature is the authentication).

``POST /v1/webhooks/stripe`` receives the platform's Connect events; ``POST
/v1/webhooks/stripe/{tenantId}`` the events of a tenant connected with its own key. This
function imports no ``stripe``: verifying is HMAC, and answering Stripe fast is the point.
"""

from __future__ import annotations

import base64
from typing import Any

from agenthub.clients import client
from agenthub.errors import BadRequest, DependencyUnavailable, is_transient
from agenthub.http import answers, api_handler, check_path_ids, json_response, make_resolver
from agenthub.settings import load_settings
from payments.handlers.settings import WebhookSettings
from payments.logic import webhooks
from payments.models import WebhookReceipt

app = make_resolver()


def _settings() -> WebhookSettings:
    return load_settings(WebhookSettings)


def _raw_body() -> bytes:
    event = app.current_event
    raw = event.body or ""
    # The signature covers the bytes Stripe sent: decode, never re-serialize.
    return base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")


def _enqueue(body: str) -> None:
    client("sqs").send_message(QueueUrl=_settings().stripe_events_queue_url, MessageBody=body)


def _receive(tenant_id: str | None) -> Any:
    signature = app.current_event.headers.get("stripe-signature")
    try:
        result = webhooks.receive(_settings().stripe(), tenant_id, _raw_body(), signature, _enqueue)
    except (ValueError, KeyError) as exc:  # unreadable JSON, or no such tenant secret
        if is_transient(exc):
            raise DependencyUnavailable("retry shortly") from exc
        raise BadRequest("not a Stripe event for this endpoint") from exc
    return json_response(app, {"received": True, "result": result})


@app.post("/v1/webhooks/stripe", summary="Stripe Connect webhooks", tags=["webhooks"])
@answers(WebhookReceipt)
def receive_connect_event():
    return _receive(None)


@app.post("/v1/webhooks/stripe/<tenantId>", summary="A tenant's Stripe webhooks", tags=["webhooks"])
@answers(WebhookReceipt)
def receive_tenant_event(tenantId: str):
    check_path_ids({"tenantId": tenantId})
    return _receive(tenantId)


handler = api_handler(app, WebhookSettings)
