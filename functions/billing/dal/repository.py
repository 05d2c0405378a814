"""Billing persistence: plans, billing accounts, the usage ledger, alerts, Stripe reports and
reconciliations. The only module of this domain that touches DynamoDB.

Counting an event is one TransactWriteItems: the event id's marker (condition: absent) and an
``ADD`` on each ledger cell it changes (the period total, the day, the agent's period and day,
the currency's volume). A redelivered event fails the marker's condition and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from agenthub import keys, outbox
from agenthub.errors import VersionConflict, is_condition_failure
from agenthub.events import DomainEvent
from agenthub.table import TableItem
from billing.dal.items import (
    BillingAccountItem,
    ConsumedEventItem,
    DocumentBytesItem,
    PlanItem,
    ReconciliationItem,
    StorageGaugeItem,
    UsageAlertItem,
    UsageCounterItem,
    UsageVolumeItem,
)
from billing.models import (
    USAGE_METRICS,
    AgentUsage,
    BillingAccount,
    DayUsage,
    Plan,
    Reconciliation,
    ReportedDay,
    UsageCounts,
    UsageDelta,
)

# ---------------------------------------------------------------------------- plans


def _plan(item: PlanItem) -> Plan:
    return Plan(
        id=item.plan_id,
        name=item.name,
        currency=item.currency,
        monthly_fee_minor=int(item.monthly_fee_minor),
        included_messages=int(item.included_messages),
        included_pages=int(item.included_pages),
        overage_message_minor=(
            int(item.overage_message_minor) if item.overage_message_minor is not None else None
        ),
        version=int(item.version),
    )


def list_plans() -> list[Plan]:
    return [_plan(item) for item in PlanItem.query(keys.PLANS_PK, consistent_read=True)]


def seed_plan(plan: Plan) -> bool:
    """Store ``plan`` unless a plan of that id exists (an operator's edits are kept)."""
    item = PlanItem(
        pk=keys.PLANS_PK,
        sk=keys.plan_sk(plan.id),
        plan_id=plan.id,
        name=plan.name,
        currency=plan.currency,
        monthly_fee_minor=plan.monthly_fee_minor,
        included_messages=plan.included_messages,
        included_pages=plan.included_pages,
        overage_message_minor=plan.overage_message_minor,
    )
    try:
        item.save(condition=PlanItem.pk.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


# ---------------------------------------------------------------------------- accounts


def _account(item: BillingAccountItem) -> BillingAccount:
    return BillingAccount(
        tenant_id=item.tenant_id,
        plan_id=item.plan_id,
        enforcement=item.enforcement,
        spend_cap_minor=int(item.spend_cap_minor or 0),
        billing_email=item.billing_email,
        stripe_customer_id=item.stripe_customer_id,
        version=int(item.version),
        updated_at=item.updated_at,
    )


def get_account(tenant_id: str) -> BillingAccount | None:
    try:
        item = BillingAccountItem.get(
            keys.billing_pk(tenant_id), keys.BILLING_ACCOUNT_SK, consistent_read=True
        )
    except DoesNotExist:
        return None
    return _account(item)


def save_account(account: BillingAccount, events: Sequence[DomainEvent]) -> None:
    """Store ``account`` (its ``version`` is the new one) if the stored version is the one
    before it; raises VersionConflict when another change came first."""
    item = BillingAccountItem(
        pk=keys.billing_pk(account.tenant_id),
        sk=keys.BILLING_ACCOUNT_SK,
        tenant_id=account.tenant_id,
        plan_id=account.plan_id,
        enforcement=account.enforcement,
        spend_cap_minor=account.spend_cap_minor,
        billing_email=account.billing_email,
        stripe_customer_id=account.stripe_customer_id,
        updated_at=account.updated_at,
        version=account.version,
    )
    condition = (
        BillingAccountItem.pk.does_not_exist()
        if account.version == 1
        else BillingAccountItem.version == account.version - 1
    )
    outbox.write(
        lambda t: t.save(item, condition=condition),
        events,
        on_condition_failure=VersionConflict("the billing account changed meanwhile; retry"),
    )


def set_customer(tenant_id: str, customer_id: str) -> None:
    """Remember the tenant's Stripe customer (creating the account item with defaults)."""
    item = BillingAccountItem(pk=keys.billing_pk(tenant_id), sk=keys.BILLING_ACCOUNT_SK)
    item.update(
        actions=[
            BillingAccountItem.entity.set(BillingAccountItem),
            BillingAccountItem.tenant_id.set(tenant_id),
            BillingAccountItem.plan_id.set(BillingAccountItem.plan_id | "free"),
            BillingAccountItem.enforcement.set(BillingAccountItem.enforcement | "hard_stop"),
            BillingAccountItem.version.set(BillingAccountItem.version | 0),
            BillingAccountItem.stripe_customer_id.set(customer_id),
        ]
    )


# ---------------------------------------------------------------------------- the ledger


def _counter_actions(counts: dict[str, int]) -> list[Any]:
    return [getattr(UsageCounterItem, name).add(value) for name, value in counts.items() if value]


def apply_usage(delta: UsageDelta, period: str, keep_marker_until: datetime) -> bool:
    """Count ``delta`` once: False when its event was counted before."""
    pk = keys.usage_pk(delta.tenant_id, period)
    cells: list[tuple[str, str | None, str | None, dict[str, str]]] = [
        (keys.USAGE_TOTAL_SK, None, None, {}),
        (
            keys.usage_day_sk(delta.day),
            None,
            delta.day,
            {"gsi1pk": keys.usage_days_gsi1pk(delta.day), "gsi1sk": delta.tenant_id},
        ),
    ]
    if delta.agent_id:
        cells += [
            (keys.usage_agent_sk(delta.agent_id), delta.agent_id, None, {}),
            (keys.usage_agent_day_sk(delta.agent_id, delta.day), delta.agent_id, delta.day, {}),
        ]
    counts = dict(delta.counts)
    stored = _storage_change(delta, keep_marker_until) if delta.document else None
    if stored is not None:
        counts["storage_bytes"] = stored.change
    counted = _counter_actions(counts)

    def build(t: TransactWrite) -> None:
        t.save(
            ConsumedEventItem(
                pk=keys.consumed_event_pk(delta.tenant_id, "billing", delta.event_id),
                sk=keys.CONSUMED_EVENT_SK,
                event_type="usage",
                expires_at=keep_marker_until,
            ),
            condition=ConsumedEventItem.pk.does_not_exist(),
        )
        for sk, agent_id, day, index in cells if counted else []:
            _add_counts(
                t, UsageCounterItem(pk=pk, sk=sk), delta.tenant_id, counted, agent_id, day, index
            )
        if stored is not None:
            stored.write(t, delta)
        if delta.volume is not None:
            _add_volume(t, pk, delta.tenant_id, *delta.volume)

    try:
        outbox.write(build, [])
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            return False
        raise
    return True


def _add_counts(
    t: TransactWrite,
    cell: UsageCounterItem,
    tenant_id: str,
    counted: list[Any],
    agent_id: str | None,
    day: str | None,
    index: dict[str, str],
) -> None:
    actions = [
        UsageCounterItem.entity.set(UsageCounterItem),
        UsageCounterItem.tenant_id.set(tenant_id),
        *counted,
    ]
    if agent_id:
        actions.append(UsageCounterItem.agent_id.set(agent_id))
    if day:
        actions.append(UsageCounterItem.day.set(day))
    if index:
        actions += [
            UsageCounterItem.gsi1pk.set(index["gsi1pk"]),
            UsageCounterItem.gsi1sk.set(index["gsi1sk"]),
        ]
    t.update(cell, actions=actions)


def _add_volume(t: TransactWrite, pk: str, tenant_id: str, currency: str, amount: int) -> None:
    t.update(
        UsageVolumeItem(pk=pk, sk=keys.usage_currency_sk(currency)),
        actions=[
            UsageVolumeItem.entity.set(UsageVolumeItem),
            UsageVolumeItem.tenant_id.set(tenant_id),
            UsageVolumeItem.currency.set(currency),
            UsageVolumeItem.amount_minor.add(amount),
        ],
    )


@dataclass
class _StorageChange:
    """A document's new record (conditional on the one read) and the gauges' change."""

    record: DocumentBytesItem
    condition: Any
    change: int

    def write(self, t: TransactWrite, delta: UsageDelta) -> None:
        t.save(self.record, condition=self.condition)
        if not self.change:
            return
        gauges = [(keys.STORAGE_SK, None), (keys.storage_agent_sk(self.record.agent_id), True)]
        for sk, per_agent in gauges:
            actions: list[Any] = [
                StorageGaugeItem.entity.set(StorageGaugeItem),
                StorageGaugeItem.stored_bytes.add(self.change),
            ]
            if per_agent:
                actions.append(StorageGaugeItem.agent_id.set(self.record.agent_id))
            t.update(StorageGaugeItem(pk=keys.billing_pk(delta.tenant_id), sk=sk), actions=actions)


def _storage_change(delta: UsageDelta, keep_tombstone_until: datetime) -> _StorageChange:
    """What a document event changes in bytes stored: the new size less the last counted
    one (a re-index of the same content changes nothing), or minus it for a deletion. The
    record is written on the condition that it is still what was read (a concurrent event of
    the same document fails the transaction; the message is retried)."""
    assert delta.document is not None and delta.agent_id is not None
    pk, sk = keys.billing_pk(delta.tenant_id), keys.storage_document_sk(delta.document.document_id)
    try:
        found: DocumentBytesItem | None = DocumentBytesItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        found = None
    previous = int(found.stored_bytes) if found is not None and not found.deleted else 0
    condition = (
        DocumentBytesItem.pk.does_not_exist()
        if found is None
        else DocumentBytesItem.stored_bytes == found.stored_bytes
    )
    new = delta.document.stored_bytes
    if found is not None and found.deleted:
        new = None  # gone already: a late index of it stores nothing
    record = DocumentBytesItem(
        pk=pk, sk=sk, agent_id=delta.agent_id, stored_bytes=new or 0, deleted=new is None
    )
    if new is None:
        record.expires_at = keep_tombstone_until
    return _StorageChange(record, condition, (new or 0) - previous)


def stored_bytes(tenant_id: str, agent_id: str | None = None) -> int:
    """Bytes of documents stored now: the tenant's, or one agent's."""
    sk = keys.storage_agent_sk(agent_id) if agent_id else keys.STORAGE_SK
    try:
        item = StorageGaugeItem.get(keys.billing_pk(tenant_id), sk)
    except DoesNotExist:
        return 0
    return int(item.stored_bytes or 0)


def _counts(item: UsageCounterItem) -> UsageCounts:
    return UsageCounts(**{name: int(getattr(item, name) or 0) for name in USAGE_METRICS})


def period_total(tenant_id: str, period: str) -> UsageCounts:
    try:
        item = UsageCounterItem.get(
            keys.usage_pk(tenant_id, period), keys.USAGE_TOTAL_SK, consistent_read=True
        )
    except DoesNotExist:
        return UsageCounts()
    return _counts(item)


class PeriodLedger:
    """Every cell of a tenant's period (one Query)."""

    def __init__(self) -> None:
        self.totals = UsageCounts()
        self.days: list[DayUsage] = []
        self.agents: dict[str, AgentUsage] = {}
        self.volume: dict[str, int] = {}


def period_ledger(tenant_id: str, period: str, agent_id: str | None = None) -> PeriodLedger:
    ledger = PeriodLedger()
    pk = keys.usage_pk(tenant_id, period)
    condition = (
        TableItem.sk.startswith(keys.usage_agent_sk(agent_id)) if agent_id is not None else None
    )
    for item in TableItem.query(pk, condition, consistent_read=True):
        if isinstance(item, UsageVolumeItem):
            ledger.volume[item.currency] = int(item.amount_minor or 0)
        if not isinstance(item, UsageCounterItem):
            continue
        counts = _counts(item)
        if item.agent_id:
            agent = ledger.agents.setdefault(
                item.agent_id, AgentUsage(agent_id=item.agent_id, counts=UsageCounts())
            )
            if item.day:
                agent.days.append(DayUsage(day=item.day, counts=counts))
            else:
                agent.counts = counts
        elif item.day:
            ledger.days.append(DayUsage(day=item.day, counts=counts))
        elif item.sk == keys.USAGE_TOTAL_SK:
            ledger.totals = counts
    return ledger


# ---------------------------------------------------------------------------- alerts


def record_alert(
    tenant_id: str,
    period: str,
    metric: str,
    percent: int,
    used: int,
    sent_at: str,
    events: Sequence[DomainEvent],
) -> bool:
    """Mark the warning sent and stage its event, once: False when it was sent before."""
    item = UsageAlertItem(
        pk=keys.billing_pk(tenant_id),
        sk=keys.usage_alert_sk(period, metric, percent),
        sent_at=sent_at,
        used=used,
    )
    try:
        outbox.write(lambda t: t.save(item, condition=UsageAlertItem.pk.does_not_exist()), events)
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def alerts_sent(tenant_id: str, period: str) -> set[tuple[str, int]]:
    prefix = keys.usage_alert_sk(period, "", 0).rsplit("#", 2)[0] + "#"
    found = set()
    for item in UsageAlertItem.query(
        keys.billing_pk(tenant_id), UsageAlertItem.sk.startswith(prefix)
    ):
        _, _, metric, percent = item.sk.split("#")
        found.add((metric, int(percent)))
    return found


# ---------------------------------------------------------------------------- Stripe reports


def _reported_day(item: UsageCounterItem) -> ReportedDay:
    return ReportedDay(
        tenant_id=item.tenant_id,
        day=str(item.day),
        messages=int(item.messages or 0),
        reported=int(item.reported or 0),
        pending_identifier=item.pending_identifier,
        pending_to=int(item.pending_to) if item.pending_to is not None else None,
    )


def days_with_usage(day: str) -> list[ReportedDay]:
    """Every tenant's ledger day ``day`` (gsi1), tenant order."""
    return [
        _reported_day(item)
        for item in UsageCounterItem.gsi1.query(keys.usage_days_gsi1pk(day))
        if isinstance(item, UsageCounterItem)
    ]


def reported_day(tenant_id: str, period: str, day: str) -> ReportedDay | None:
    try:
        item = UsageCounterItem.get(
            keys.usage_pk(tenant_id, period), keys.usage_day_sk(day), consistent_read=True
        )
    except DoesNotExist:
        return None
    return _reported_day(item)


def _day_item(tenant_id: str, period: str, day: str) -> UsageCounterItem:
    return UsageCounterItem(pk=keys.usage_pk(tenant_id, period), sk=keys.usage_day_sk(day))


def begin_report(
    tenant_id: str, period: str, day: str, expected_reported: int, identifier: str, to: int
) -> bool:
    """Record the report about to be sent (identifier and the count it brings Stripe to), if
    nothing was reported since ``expected_reported`` and no other report is in flight."""
    reported = UsageCounterItem.reported
    condition = (
        reported.does_not_exist() | (reported == 0)
        if expected_reported == 0
        else reported == expected_reported
    )
    try:
        _day_item(tenant_id, period, day).update(
            actions=[
                UsageCounterItem.pending_identifier.set(identifier),
                UsageCounterItem.pending_to.set(to),
            ],
            condition=condition & UsageCounterItem.pending_identifier.does_not_exist(),
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def finish_report(
    tenant_id: str,
    period: str,
    day: str,
    identifier: str,
    to: int,
    events: Sequence[DomainEvent],
) -> None:
    """The report ``identifier`` reached Stripe: the day is reported up to ``to``."""
    item = _day_item(tenant_id, period, day)

    def build(t: TransactWrite) -> None:
        t.update(
            item,
            actions=[
                UsageCounterItem.reported.set(to),
                UsageCounterItem.pending_identifier.remove(),
                UsageCounterItem.pending_to.remove(),
            ],
            condition=UsageCounterItem.pending_identifier == identifier,
        )

    try:
        outbox.write(build, events)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise  # a finished report is finished: another run recorded it first


def add_reported(tenant_id: str, period: str, day: str, quantity: int) -> None:
    """A correction reached Stripe: count it as reported."""
    _day_item(tenant_id, period, day).update(actions=[UsageCounterItem.reported.add(quantity)])


def put_reconciliation(result: Reconciliation) -> None:
    ReconciliationItem(
        pk=keys.billing_pk(result.tenant_id),
        sk=keys.reconciliation_sk(result.day),
        **result.model_dump(),
    ).save()


def reconciliations(tenant_id: str, days: Iterable[str]) -> list[Reconciliation]:
    wanted = [(keys.billing_pk(tenant_id), keys.reconciliation_sk(day)) for day in days]
    found = [i for i in ReconciliationItem.batch_get(wanted) if isinstance(i, ReconciliationItem)]
    return sorted(
        (
            Reconciliation(
                tenant_id=i.tenant_id,
                day=i.day,
                ledger=int(i.ledger),
                reported=int(i.reported),
                stripe=int(i.stripe),
                corrected=int(i.corrected),
                status=i.status,
                checked_at=i.checked_at,
            )
            for i in found
        ),
        key=lambda r: r.day,
    )


# ---------------------------------------------------------------------------- consumed events


def event_consumed(tenant_id: str, consumer: str, event_id: str) -> bool:
    try:
        ConsumedEventItem.get(
            keys.consumed_event_pk(tenant_id, consumer, event_id),
            keys.CONSUMED_EVENT_SK,
            consistent_read=True,
        )
    except DoesNotExist:
        return False
    return True


def mark_consumed(tenant_id: str, consumer: str, event_id: str, until: datetime) -> None:
    ConsumedEventItem(
        pk=keys.consumed_event_pk(tenant_id, consumer, event_id),
        sk=keys.CONSUMED_EVENT_SK,
        event_type=consumer,
        expires_at=until,
    ).save()
