"""Payments persistence: the Stripe connection, payments, payment links, refunds and processed
Stripe event ids (one partition per tenant), and the tenants' Stripe secrets.

Every change of a payment is one TransactWriteItems: the payment (conditional on its
version), the Stripe event id that caused it (conditional on its absence: a replayed event
changes nothing), the refund it records (conditional on its absence) and the outbox events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from agenthub import keys, outbox
from agenthub.clients import client, secret_json
from agenthub.errors import NotFound, VersionConflict, is_condition_failure
from agenthub.events import DomainEvent, utc_now_iso
from agenthub.table import TableItem
from payments.dal.items import (
    PaymentItem,
    PaymentLinkItem,
    RefundItem,
    StripeConnectionItem,
    StripeEventItem,
)
from payments.models import Connection, Payment, PaymentLink

# Stripe retries a webhook for up to three days; keep the ids a while longer.
EVENT_MARKER_TTL = timedelta(days=7)
SECRET_CACHE_SECONDS = 300


class Applied(Enum):
    APPLIED = "applied"
    DUPLICATE_EVENT = "duplicate_event"  # the Stripe event was applied before
    STALE = "stale"  # the payment changed meanwhile: read it again and decide again


# ---------------------------------------------------------------------------- connection


def _connection(item: StripeConnectionItem) -> Connection:
    return Connection(
        tenant_id=item.tenant_id,
        mode=item.mode,
        account_id=item.account_id,
        livemode=bool(item.livemode),
        webhook_endpoint_id=item.webhook_endpoint_id,
        connected_at=item.connected_at,
        version=int(item.version),
    )


def get_connection(tenant_id: str) -> Connection | None:
    try:
        item = StripeConnectionItem.get(keys.tenant_pk(tenant_id), keys.STRIPE_CONNECTION_SK)
    except DoesNotExist:
        return None
    return _connection(item)


def save_connection(
    connection: Connection, events: Sequence[DomainEvent], *, replaces: int | None
) -> None:
    """Store the connection: new (``replaces`` None) or replacing version ``replaces``."""
    item = StripeConnectionItem(
        pk=keys.tenant_pk(connection.tenant_id),
        sk=keys.STRIPE_CONNECTION_SK,
        **connection.model_dump(exclude={"tenant_id"}),
        tenant_id=connection.tenant_id,
    )
    condition = (
        StripeConnectionItem.pk.does_not_exist()
        if replaces is None
        else StripeConnectionItem.version == replaces
    )
    outbox.write(
        lambda t: t.save(item, condition=condition),
        events,
        on_condition_failure=VersionConflict("the Stripe connection changed meanwhile; retry"),
    )


def delete_connection(tenant_id: str, events: Sequence[DomainEvent]) -> None:
    item = StripeConnectionItem(pk=keys.tenant_pk(tenant_id), sk=keys.STRIPE_CONNECTION_SK)
    outbox.write(
        lambda t: t.delete(item, condition=StripeConnectionItem.pk.exists()),
        events,
        on_condition_failure=NotFound("Stripe is not connected"),
    )


# ---------------------------------------------------------------------------- secrets


def put_tenant_secret(name: str, tenant_id: str, value: dict[str, str]) -> None:
    """Create or update the tenant's Stripe secret (never logged, never returned)."""
    secrets = client("secretsmanager")
    body = json.dumps(value)
    try:
        secrets.put_secret_value(SecretId=name, SecretString=body)
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(
            Name=name,
            SecretString=body,
            Description="A tenant's Stripe credentials (AgentHub payments)",
            Tags=[{"Key": "tenant", "Value": tenant_id}],
        )


def tenant_secret(name: str) -> dict[str, Any]:
    """The tenant's secret, cached per environment for SECRET_CACHE_SECONDS; empty when the
    tenant never connected Stripe (a webhook for an unknown tenant is a 400, not a 500)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return secret_json(name, max_age=SECRET_CACHE_SECONDS)
    except GetParameterError as exc:
        if "ResourceNotFoundException" in str(exc):
            return {}
        raise


def delete_tenant_secret(name: str) -> None:
    secrets = client("secretsmanager")
    try:
        secrets.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    except secrets.exceptions.ResourceNotFoundException:
        return


def platform_secret(arn: str) -> dict[str, Any]:
    return secret_json(arn, max_age=SECRET_CACHE_SECONDS)


# ---------------------------------------------------------------------------- payments


def _payment(item: PaymentItem) -> Payment:
    return Payment(
        id=item.payment_id,
        tenant_id=item.tenant_id,
        kind=item.kind,
        status=item.status,
        amount_minor=int(item.amount_minor),
        currency=item.currency,
        description=item.description,
        agent_id=item.agent_id,
        conversation_id=item.conversation_id,
        booking_id=item.booking_id,
        booking_outcome=item.booking_outcome,
        hold_expires_at=item.hold_expires_at,
        link_id=item.link_id,
        checkout_session_id=item.checkout_session_id,
        checkout_url=item.checkout_url,
        payment_intent_id=item.payment_intent_id,
        refunded_minor=int(item.refunded_minor or 0),
        failure_reason=item.failure_reason,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version),
    )


def _payment_item(payment: Payment) -> PaymentItem:
    values = payment.model_dump(exclude={"id"})
    item = PaymentItem(
        pk=keys.payments_pk(payment.tenant_id),
        sk=keys.payment_sk(payment.id),
        payment_id=payment.id,
        **values,
    )
    waiting_for_hold = (
        payment.kind == "booking" and payment.status == "open" and payment.hold_expires_at
    )
    if waiting_for_hold:
        # Sparse: only open booking checkouts are in this gsi1 partition (the expiry job).
        item.gsi1pk = keys.OPEN_HOLD_CHECKOUTS_GSI1PK
        item.gsi1sk = keys.open_hold_checkout_gsi1sk(
            _sortable(datetime.fromisoformat(str(payment.hold_expires_at).replace("Z", "+00:00"))),
            payment.tenant_id,
            payment.id,
        )
    return item


def get_payment(tenant_id: str, payment_id: str, *, consistent: bool = False) -> Payment:
    try:
        item = PaymentItem.get(
            keys.payments_pk(tenant_id), keys.payment_sk(payment_id), consistent_read=consistent
        )
    except DoesNotExist:
        raise NotFound("payment not found") from None
    return _payment(item)


def find_payment(tenant_id: str, payment_id: str) -> Payment | None:
    try:
        return get_payment(tenant_id, payment_id, consistent=True)
    except NotFound:
        return None


def list_payments(
    tenant_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Payment], dict[str, Any] | None]:
    result = PaymentItem.query(
        keys.payments_pk(tenant_id),
        PaymentItem.sk.startswith(keys.PAYMENT_SK_PREFIX),
        limit=limit,
        page_size=limit,
        last_evaluated_key=start_key,
    )
    return [_payment(item) for item in result], result.last_evaluated_key


@dataclass
class EventReads:
    seen: bool
    payment: Payment | None
    connection: Connection | None


def read_for_event(tenant_id: str, event_id: str, payment_id: str | None) -> EventReads:
    """One consistent BatchGetItem: was the event applied, the payment, the connection."""
    pk = keys.payments_pk(tenant_id)
    wanted = [
        (pk, keys.stripe_event_sk(event_id)),
        (keys.tenant_pk(tenant_id), keys.STRIPE_CONNECTION_SK),
    ]
    if payment_id:
        wanted.append((pk, keys.payment_sk(payment_id)))
    found = {(i.pk, i.sk): i for i in TableItem.batch_get(wanted, consistent_read=True)}
    payment = found.get((pk, keys.payment_sk(payment_id))) if payment_id else None
    connection = found.get((keys.tenant_pk(tenant_id), keys.STRIPE_CONNECTION_SK))
    return EventReads(
        seen=(pk, keys.stripe_event_sk(event_id)) in found,
        payment=_payment(payment) if isinstance(payment, PaymentItem) else None,
        connection=_connection(connection)
        if isinstance(connection, StripeConnectionItem)
        else None,
    )


@dataclass(frozen=True)
class StripeEventRef:
    event_id: str
    event_type: str


@dataclass(frozen=True)
class RefundRecord:
    refund_id: str
    amount_minor: int
    reason: str


def apply(
    payment: Payment,
    *,
    expected_version: int | None,
    events: Sequence[DomainEvent] = (),
    stripe_event: StripeEventRef | None = None,
    refund: RefundRecord | None = None,
) -> Applied:
    """Write ``payment`` (new when ``expected_version`` is None, else replacing that
    version), with the Stripe event id and the refund it records, and ``events``: all or
    nothing. Says what happened instead of raising on the conditions it names."""
    pk = keys.payments_pk(payment.tenant_id)
    item = _payment_item(payment)
    condition = (
        PaymentItem.pk.does_not_exist()
        if expected_version is None
        else PaymentItem.version == expected_version
    )
    now = utc_now_iso()

    def build(t: Any) -> None:
        t.save(item, condition=condition)
        if stripe_event is not None:
            marker = StripeEventItem(
                pk=pk,
                sk=keys.stripe_event_sk(stripe_event.event_id),
                event_id=stripe_event.event_id,
                event_type=stripe_event.event_type,
                processed_at=now,
                expires_at=datetime.now(UTC) + EVENT_MARKER_TTL,
            )
            t.save(marker, condition=StripeEventItem.pk.does_not_exist())
        if refund is not None:
            record = RefundItem(
                pk=pk,
                sk=keys.refund_sk(refund.refund_id),
                refund_id=refund.refund_id,
                payment_id=payment.id,
                amount_minor=refund.amount_minor,
                reason=refund.reason,
                created_at=now,
            )
            t.save(record, condition=RefundItem.pk.does_not_exist())

    try:
        outbox.write(build, events)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise
        reasons = getattr(exc, "cancellation_reasons", None) or []
        failed = [i for i, r in enumerate(reasons) if r and r.code == "ConditionalCheckFailed"]
        if stripe_event is not None and 1 in failed and 0 not in failed:
            return Applied.DUPLICATE_EVENT
        refund_index = 2 if stripe_event is not None else 1
        if refund is not None and refund_index in failed and 0 not in failed:
            return Applied.DUPLICATE_EVENT
        return Applied.STALE
    return Applied.APPLIED


def record_event(tenant_id: str, stripe_event: StripeEventRef) -> bool:
    """Mark an event applied without changing a payment; False when it already was."""
    marker = StripeEventItem(
        pk=keys.payments_pk(tenant_id),
        sk=keys.stripe_event_sk(stripe_event.event_id),
        event_id=stripe_event.event_id,
        event_type=stripe_event.event_type,
        processed_at=utc_now_iso(),
        expires_at=datetime.now(UTC) + EVENT_MARKER_TTL,
    )
    try:
        marker.save(condition=StripeEventItem.pk.does_not_exist())
    except Exception as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def refunds_of(tenant_id: str, payment_id: str) -> list[RefundRecord]:
    found = RefundItem.query(
        keys.payments_pk(tenant_id),
        RefundItem.sk.startswith("REFUND#"),
        filter_condition=RefundItem.payment_id == payment_id,
    )
    return [RefundRecord(i.refund_id, int(i.amount_minor), i.reason) for i in found]


def _sortable(moment: datetime) -> str:
    """One fixed UTC format for the index, whatever form the hold's end came in."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_hold_checkouts(before: datetime, limit: int = 100) -> list[Payment]:
    """Open booking checkouts whose hold ended before ``before`` (every tenant, oldest first)."""
    found = PaymentItem.gsi1.query(
        keys.OPEN_HOLD_CHECKOUTS_GSI1PK,
        PaymentItem.gsi1sk < _sortable(before),
        limit=limit,
    )
    return [_payment(item) for item in found if isinstance(item, PaymentItem)]


# ---------------------------------------------------------------------------- payment links


def _link(item: PaymentLinkItem) -> PaymentLink:
    return PaymentLink(
        id=item.link_id,
        tenant_id=item.tenant_id,
        agent_id=item.agent_id,
        conversation_id=item.conversation_id,
        stripe_link_id=item.stripe_link_id,
        url=item.url,
        amount_minor=int(item.amount_minor),
        currency=item.currency,
        description=item.description,
        active=bool(item.active),
        created_at=item.created_at,
    )


def create_link(link: PaymentLink, events: Sequence[DomainEvent] = ()) -> bool:
    """Store a new link; False when this id exists already (a retried request)."""
    item = PaymentLinkItem(
        pk=keys.payments_pk(link.tenant_id),
        sk=keys.payment_link_sk(link.id),
        link_id=link.id,
        **link.model_dump(exclude={"id"}),
    )
    try:
        outbox.write(lambda t: t.save(item, condition=PaymentLinkItem.pk.does_not_exist()), events)
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def get_link(tenant_id: str, link_id: str) -> PaymentLink:
    try:
        item = PaymentLinkItem.get(keys.payments_pk(tenant_id), keys.payment_link_sk(link_id))
    except DoesNotExist:
        raise NotFound("payment link not found") from None
    return _link(item)


def list_links(
    tenant_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[PaymentLink], dict[str, Any] | None]:
    result = PaymentLinkItem.query(
        keys.payments_pk(tenant_id),
        PaymentLinkItem.sk.startswith(keys.PAYMENT_LINK_SK_PREFIX),
        limit=limit,
        page_size=limit,
        last_evaluated_key=start_key,
    )
    return [_link(item) for item in result], result.last_evaluated_key
