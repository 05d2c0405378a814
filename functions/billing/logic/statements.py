"""What a tenant reads: the usage summary of a period and the invoice it would get."""

from __future__ import annotations

import re

from agenthub.errors import BadRequest
from billing.dal import repository
from billing.logic.accounts import current_period, get_account, message_allowance, period_bounds
from billing.logic.plans import plan
from billing.models import (
    PERIOD_PATTERN,
    AgentUsage,
    InvoiceLine,
    InvoicePreview,
    UsageCounts,
    UsageSummary,
)

_PERIOD = re.compile(PERIOD_PATTERN)


def checked_period(period: str | None) -> str:
    """``YYYY-MM`` (default: the current period); anything else is a 400."""
    if period is None:
        return current_period()
    if not _PERIOD.match(period):
        raise BadRequest("'period' must be YYYY-MM", details={"period": period})
    return period


def usage_summary(tenant_id: str, period: str | None, agent_id: str | None = None) -> UsageSummary:
    """The period's usage from the ledger: totals, days, agents (with their days), payments
    volume per currency and the message quota."""
    period = checked_period(period)
    account = get_account(tenant_id)
    chosen = plan(account.plan_id)
    ledger = repository.period_ledger(tenant_id, period, agent_id)
    allowance = message_allowance(tenant_id, period_bounds(period)[0])
    used = ledger.totals.messages
    start, end = period_bounds(period)
    agents = sorted(ledger.agents.values(), key=lambda a: (-a.counts.messages, a.agent_id))
    for agent in agents:
        agent.days.sort(key=lambda d: d.day)
    return UsageSummary(
        period=period,
        period_start=start.isoformat().replace("+00:00", "Z"),
        period_end=end.isoformat().replace("+00:00", "Z"),
        plan=chosen,
        enforcement=account.enforcement,
        spend_cap_minor=account.spend_cap_minor,
        totals=ledger.totals if agent_id is None else _sum(agents),
        payment_volume_minor=ledger.volume if agent_id is None else {},
        quota={
            "included_messages": chosen.included_messages,
            "message_limit": allowance.limit,
            "messages_used": used,
            "percent_used": round(100 * used / chosen.included_messages, 1)
            if chosen.included_messages
            else 0.0,
        },
        days=sorted(ledger.days, key=lambda d: d.day),
        agents=agents,
        stored_bytes=repository.stored_bytes(tenant_id, agent_id),
    )


def agent_usage(tenant_id: str, agent_id: str, period: str | None) -> UsageSummary:
    """One agent's usage of a period; another tenant's (or no) agent is a 404."""
    from agents.logic import get_agent

    get_agent(tenant_id, agent_id)
    return usage_summary(tenant_id, period, agent_id)


def _sum(agents: list[AgentUsage]) -> UsageCounts:
    total = UsageCounts()
    for agent in agents:
        for name, value in agent.counts.model_dump().items():
            setattr(total, name, getattr(total, name) + value)
    return total


def invoice_preview(tenant_id: str, period: str | None) -> InvoicePreview:
    """The invoice the period would produce with the usage so far: the plan's fee, and in
    overage mode the messages beyond the included ones, at most the spend cap."""
    period = checked_period(period)
    account = get_account(tenant_id)
    chosen = plan(account.plan_id)
    used = repository.period_total(tenant_id, period).messages
    lines = [
        InvoiceLine(
            description=f"{chosen.name} plan, {period}",
            quantity=1,
            unit_amount_minor=chosen.monthly_fee_minor,
            amount_minor=chosen.monthly_fee_minor,
        )
    ]
    capped = False
    beyond = max(0, used - chosen.included_messages)
    if account.enforcement == "overage" and chosen.overage_message_minor and beyond:
        amount = beyond * chosen.overage_message_minor
        capped = amount > account.spend_cap_minor
        amount = min(amount, account.spend_cap_minor)
        lines.append(
            InvoiceLine(
                description=f"Messages beyond the {chosen.included_messages} included",
                quantity=beyond,
                unit_amount_minor=chosen.overage_message_minor,
                amount_minor=amount,
            )
        )
    subtotal = sum(line.amount_minor for line in lines)
    return InvoicePreview(
        period=period,
        currency=chosen.currency,
        plan_id=chosen.id,
        lines=lines,
        subtotal_minor=subtotal,
        capped=capped,
        total_minor=subtotal,
    )
