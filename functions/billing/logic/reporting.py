"""Usage to Stripe Billing Meters, and the nightly reconciliation.

Reporting (a scheduled job, hourly): for every tenant day of the ledger (today and
yesterday, UTC) of a tenant on a paid plan, the messages not yet reported go to Stripe as one
meter event on the platform's account, for the tenant's customer, timestamped inside that
day. A report is made in three steps so a crash at any point neither loses nor doubles
usage: (1) the day records the report in flight (its identifier and the count it brings
Stripe to), on the condition that nothing else was reported meanwhile; (2) the meter event
is sent with that identifier (Stripe deduplicates identifiers for at least 24 h; the
Idempotency-Key is the same); (3) the day records the new reported count and the event
UsageReported. A run that finds a report in flight sends the same event again.

Reconciliation (nightly): compares each tenant day's ledger count, our reported count and
Stripe's meter event summary of that day; when Stripe has fewer (an event lost, a day
missed) the difference is sent as a correction with an identifier of its own; more at
Stripe than in the ledger is flagged (meter events cannot be taken back by this job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.events import Actor, utc_now_iso
from agenthub.observability import logger
from billing.dal import repository
from billing.logic.accounts import get_account, period_of
from billing.logic.plans import plan
from billing.models import Reconciliation, ReportedDay, UsageReported, UsageReportedData
from payments.logic import StripeConfig, call, client, idempotency_key, platform_credentials

SYSTEM = Actor(kind="system")
_meters: TTLCache[str] = ttl_cache(3600, max_entries=8)


@dataclass(frozen=True)
class MeterConfig:
    stripe: StripeConfig
    event_name: str  # the meter's event name, e.g. "agenthub_messages"


def _sdk(config: MeterConfig) -> Any:
    return client(platform_credentials(config.stripe))


def meter_id(config: MeterConfig) -> str:
    """The platform's meter for ``event_name`` (created the first time: a sum of values per
    customer)."""
    found = _meters.get(config.event_name)
    if found:
        return found
    sdk = _sdk(config)
    meters = call(lambda: sdk.v1.billing.meters.list({"limit": 100}))
    match = next((m for m in meters.data if m.event_name == config.event_name), None)
    if match is None:
        params = {
            "display_name": "AgentHub messages",
            "event_name": config.event_name,
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
            "value_settings": {"event_payload_key": "value"},
        }
        options = {"idempotency_key": idempotency_key("meter", config.event_name)}
        match = call(lambda: sdk.v1.billing.meters.create(params, options))
    _meters.set(config.event_name, str(match.id))
    return str(match.id)


def billed(tenant_id: str) -> bool:
    """A tenant on a paid plan (free tenants are not invoiced, so not reported)."""
    chosen = plan(get_account(tenant_id).plan_id)
    return chosen.monthly_fee_minor > 0 or chosen.overage_message_minor is not None


def customer_id(config: MeterConfig, tenant_id: str) -> str:
    """The tenant's customer at the platform's Stripe account (created once)."""
    account = get_account(tenant_id)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    sdk = _sdk(config)
    params = {"metadata": {"tenant_id": tenant_id}, "email": account.billing_email}
    params = {k: v for k, v in params.items() if v}
    options = {"idempotency_key": idempotency_key("customer", tenant_id)}
    customer = call(lambda: sdk.v1.customers.create(params, options))
    repository.set_customer(tenant_id, str(customer.id))
    return str(customer.id)


def _timestamp(day: str) -> int:
    """A moment inside ``day`` Stripe accepts: its last second, or now while it lasts."""
    end = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC) + timedelta(days=1)
    return int(min(end - timedelta(seconds=1), datetime.now(UTC)).timestamp())


def _send(config: MeterConfig, customer: str, day: str, quantity: int, identifier: str) -> None:
    sdk = _sdk(config)
    params = {
        "event_name": config.event_name,
        "payload": {"stripe_customer_id": customer, "value": str(quantity)},
        "identifier": identifier,
        "timestamp": _timestamp(day),
    }
    call(lambda: sdk.v1.billing.meter_events.create(params, {"idempotency_key": identifier}))


def report_day(config: MeterConfig, row: ReportedDay) -> int:
    """Report what of ``row`` Stripe has not been told; the quantity sent (0: nothing)."""
    if not billed(row.tenant_id):
        return 0
    period = period_of(row.day)
    if row.pending_identifier is None:
        quantity = row.messages - row.reported
        if quantity <= 0:
            return 0
        identifier = f"ah-{row.tenant_id}-{row.day}-{row.reported}-{row.messages}"[:100]
        if not repository.begin_report(
            row.tenant_id, period, row.day, row.reported, identifier, row.messages
        ):
            return 0  # another run reported meanwhile; the next run sees its result
        to = row.messages
    else:
        identifier, to = row.pending_identifier, int(row.pending_to or 0)
        quantity = to - row.reported
    customer = customer_id(config, row.tenant_id)
    _send(config, customer, row.day, quantity, identifier)
    event = UsageReported(
        tenant_id=row.tenant_id,
        actor=SYSTEM,
        subject=f"billing/{row.tenant_id}",
        data=UsageReportedData(
            day=row.day, quantity=quantity, identifier=identifier, stripe_customer_id=customer
        ),
    )
    repository.finish_report(row.tenant_id, period, row.day, identifier, to, [event])
    return quantity


def report_usage(config: MeterConfig, days: list[str]) -> dict[str, Any]:
    """Report every tenant's unreported usage of ``days``. A tenant whose report fails is
    logged and retried by the next run; the others go on."""
    sent = failed = 0
    meter_id(config)  # meter events need the meter; its first run creates it
    for day in days:
        for row in repository.days_with_usage(day):
            try:
                sent += report_day(config, row)
            except Exception:
                failed += 1
                logger().exception("usage report failed", extra={"tenant_id": row.tenant_id})
    return {"days": days, "quantity_reported": sent, "failed_tenants": failed}


def stripe_total(config: MeterConfig, customer: str, day: str) -> int:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)
    params = {
        "customer": customer,
        "start_time": int(start.timestamp()),
        "end_time": int((start + timedelta(days=1)).timestamp()),
    }
    sdk = _sdk(config)
    meter = meter_id(config)
    summaries = call(lambda: sdk.v1.billing.meters.event_summaries.list(meter, params))
    return sum(int(s.aggregated_value) for s in summaries.data)


def reconcile_day(config: MeterConfig, row: ReportedDay) -> Reconciliation | None:
    """Compare a tenant day with Stripe and correct what Stripe lacks (None: not billed, or
    a report in flight that the reporting job finishes first)."""
    if not billed(row.tenant_id) or row.pending_identifier is not None:
        return None
    account = get_account(row.tenant_id)
    checked_at = utc_now_iso()
    if not account.stripe_customer_id:
        status = "no_customer" if row.messages else "match"
        unmatched = Reconciliation(
            tenant_id=row.tenant_id,
            day=row.day,
            ledger=row.messages,
            reported=row.reported,
            stripe=0,
            corrected=0,
            status=status,
            checked_at=checked_at,
        )
        repository.put_reconciliation(unmatched)
        return unmatched
    at_stripe = stripe_total(config, account.stripe_customer_id, row.day)
    corrected = 0
    status = "match"
    if at_stripe < row.messages:
        corrected = row.messages - at_stripe
        identifier = f"ah-fix-{row.tenant_id}-{row.day}-{at_stripe}-{row.messages}"[:100]
        period = period_of(row.day)
        if repository.begin_report(
            row.tenant_id, period, row.day, row.reported, identifier, row.messages
        ):
            _send(config, account.stripe_customer_id, row.day, corrected, identifier)
            repository.finish_report(row.tenant_id, period, row.day, identifier, row.messages, [])
            status = "corrected"
        else:
            corrected = 0
    elif at_stripe > row.messages:
        status = "over_reported"
        logger().warning(
            "Stripe has more usage than the ledger",
            extra={"tenant_id": row.tenant_id, "day": row.day},
        )
    result = Reconciliation(
        tenant_id=row.tenant_id,
        day=row.day,
        ledger=row.messages,
        reported=row.reported,
        stripe=at_stripe,
        corrected=corrected,
        status=status,
        checked_at=checked_at,
    )
    repository.put_reconciliation(result)
    return result


def reconcile(config: MeterConfig, days: list[str]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for day in days:
        for row in repository.days_with_usage(day):
            try:
                result = reconcile_day(config, row)
            except Exception:
                logger().exception("reconciliation failed", extra={"tenant_id": row.tenant_id})
                counts["failed"] = counts.get("failed", 0) + 1
                continue
            if result is not None:
                counts[result.status] = counts.get(result.status, 0) + 1
    return {"days": days, "results": counts}


def recent_days(today: date, count: int) -> list[str]:
    """``count`` days ending with ``today``, oldest first."""
    return [(today - timedelta(days=n)).isoformat() for n in range(count - 1, -1, -1)]
