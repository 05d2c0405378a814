"""Payments REST API: the tenant's Stripe connection, payments and refunds, payment requests
an agent sends (one-off checkouts and reusable links), and a visitor's payment status."""

from __future__ import annotations

from functools import partial

from agenthub import public_limits
from agenthub.events import Actor
from agenthub.http import (
    ALL_ROLES,
    MANAGERS,
    WRITERS,
    Caller,
    answers,
    api_handler,
    check_path_ids,
    client_address,
    endpoint,
    json_response,
    make_resolver,
    no_content,
    paginated,
    public_cors,
    publishable_caller,
)
from agenthub.public_limits import Count
from agenthub.settings import load_settings
from payments.handlers.settings import PaymentsApiSettings
from payments.logic import bookings, charges, connections, queries, refunds
from payments.models import (
    Connection,
    ConnectionCreate,
    PaymentLinkView,
    PaymentRequestAnswer,
    PaymentRequestCreate,
    PaymentView,
    RefundCreate,
    VisitorPayment,
)

# What a connection's answers leave out (Connection.public).
HIDDEN_CONNECTION = frozenset({"tenant_id", "version"})

app = make_resolver()


def _settings() -> PaymentsApiSettings:
    return load_settings(PaymentsApiSettings)


def _counts(who: Caller, agent_id: str, *, write: bool) -> list[Count]:
    """A widget call's counters: its client address's and its publishable key's."""
    window = _settings().writes() if write else _settings().reads()
    address = client_address(app)
    return public_limits.counts(
        who.tenant_id, agent_id, window, client_address=address, key_id=who.key_id
    )


def _webhook_url(tenant_id: str) -> str:
    """Our tenant webhook route, at the public URL when configured, else at the address the
    caller used (API Gateway's domain, with the stage on execute-api domains)."""
    base = _settings().public_api_url.rstrip("/")
    if not base:
        event = app.current_event
        host = event.headers.get("host") or event.request_context.domain_name or ""
        scheme = event.headers.get("x-forwarded-proto") or "http"
        stage = event.request_context.stage
        suffix = f"/{stage}" if host.endswith(".amazonaws.com") and stage else ""
        base = f"{scheme}://{host}{suffix}"
    return f"{base}/v1/webhooks/stripe/{tenant_id}"


@app.put("/v1/payments/stripe", summary="Connect the tenant's Stripe account", tags=["payments"])
@answers(Connection, exclude=HIDDEN_CONNECTION)
@endpoint(app, roles=MANAGERS, body=ConnectionCreate)
def connect_stripe(who: Caller, body: ConnectionCreate):
    connection = connections.connect(
        _settings().stripe(),
        who.tenant_id,
        body,
        webhook_url=_webhook_url(who.tenant_id),
        actor=Actor(**who.actor),
    )
    return json_response(app, connection.public())


@app.get("/v1/payments/stripe", summary="The Stripe connection (never the key)", tags=["payments"])
@answers(Connection, exclude=HIDDEN_CONNECTION)
@endpoint(app, roles=ALL_ROLES)
def get_stripe(who: Caller):
    return json_response(app, connections.get_connection(who.tenant_id).public())


@app.delete("/v1/payments/stripe", summary="Disconnect Stripe", tags=["payments"])
@answers(status=204)
@endpoint(app, roles=MANAGERS)
def disconnect_stripe(who: Caller):
    connections.disconnect(_settings().stripe(), who.tenant_id, Actor(**who.actor))
    return no_content()


@app.post(
    "/v1/payment-requests",
    summary="A payment an agent sends: one-off checkout or reusable link",
    tags=["payments"],
)
@answers(PaymentRequestAnswer, status=201)
@endpoint(app, roles=WRITERS, body=PaymentRequestCreate)
def create_payment_request(who: Caller, body: PaymentRequestCreate):
    key = app.current_event.headers.get("idempotency-key")
    kind, created = charges.create_payment_request(
        _settings().stripe(), who.tenant_id, body, request_key=key
    )
    return json_response(app, {kind: created.public()}, status=201)


@app.get("/v1/payments", summary="List payments (cursor pagination)", tags=["payments"])
@answers(PaymentView, page=True)
@endpoint(app, roles=ALL_ROLES)
def list_payments(who: Caller):
    load = partial(queries.list_payments, who.tenant_id)
    return paginated(app, who, load, view=lambda payment: payment.public())


@app.get("/v1/payments/<paymentId>", summary="Get a payment", tags=["payments"])
@answers(PaymentView)
@endpoint(app, roles=ALL_ROLES)
def get_payment(who: Caller, paymentId: str):
    return json_response(app, queries.get_payment(who.tenant_id, paymentId).public())


@app.post("/v1/payments/<paymentId>/refunds", summary="Refund a payment", tags=["payments"])
@answers(PaymentView, status=201)
@endpoint(app, roles=MANAGERS, body=RefundCreate)
def refund_payment(who: Caller, body: RefundCreate, paymentId: str):
    payment = refunds.refund_payment(
        _settings().stripe(),
        who.tenant_id,
        paymentId,
        amount_minor=body.amount_minor,
        reason=body.reason,
        actor=Actor(**who.actor),
    )
    return json_response(app, payment.public(), status=201)


@app.get("/v1/payment-links", summary="List payment links", tags=["payments"])
@answers(PaymentLinkView, page=True)
@endpoint(app, roles=ALL_ROLES)
def list_payment_links(who: Caller):
    load = partial(queries.list_links, who.tenant_id)
    return paginated(app, who, load, view=lambda link: link.public())


@app.get(
    "/v1/public/agents/<agentId>/payments/<paymentId>",
    summary="A visitor's payment status (publishable key, allowed Origin)",
    tags=["widget"],
)
@answers(VisitorPayment)
def get_visitor_payment(agentId: str, paymentId: str):
    who = publishable_caller(app, agentId)
    check_path_ids({"paymentId": paymentId})
    public_limits.take(_counts(who, agentId, write=False))
    payment = queries.get_visitor_payment(who.tenant_id, agentId, paymentId)
    return json_response(app, payment.for_visitor(), headers=public_cors(app))


@app.post(
    "/v1/public/agents/<agentId>/bookings/<bookingId>/checkout",
    summary="The pay step of a held booking (publishable key, allowed Origin)",
    tags=["widget"],
)
@answers(VisitorPayment, status=201)
def create_booking_checkout(agentId: str, bookingId: str):
    who = publishable_caller(app, agentId)
    check_path_ids({"bookingId": bookingId})
    # counted before Stripe is called (its session is what a burst would spend)
    public_limits.take(_counts(who, agentId, write=True))
    origin = app.current_event.headers.get("origin") or ""
    payment = bookings.create_booking_checkout(
        _settings().stripe(), who.tenant_id, agentId, bookingId, return_url=f"{origin}/"
    )
    return json_response(app, payment.for_visitor(), status=201, headers=public_cors(app))


handler = api_handler(app, PaymentsApiSettings)
