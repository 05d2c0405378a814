"""A tenant's billing account (plan, hard stop or overage with a spend cap, billing email),
billing periods (calendar months, UTC) and the message allowance the message path enforces."""

from __future__ import annotations

from datetime import UTC, date, datetime

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.errors import ValidationFailed
from agenthub.events import Actor, utc_now_iso
from billing.dal import repository
from billing.logic.plans import plan
from billing.models import (
    BillingAccount,
    BillingAccountChanged,
    BillingAccountChangedData,
    BillingAccountUpdate,
    MessageAllowance,
)

# The allowance is read on every message: a warm environment keeps it this long (the
# architecture's "usage statistics 30 s" level). A plan change reaches every environment
# within it; the environment that made the change refreshes at once.
ALLOWANCE_CACHE_SECONDS = 30
_allowances: TTLCache[MessageAllowance] = ttl_cache(ALLOWANCE_CACHE_SECONDS, max_entries=4096)


def period_of(moment: datetime | date | str) -> str:
    """The billing period (``YYYY-MM``) of a moment, an ISO timestamp or a date."""
    if isinstance(moment, str):
        return moment[:7]
    return f"{moment.year:04d}-{moment.month:02d}"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a period, UTC."""
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def current_period() -> str:
    return period_of(datetime.now(UTC))


def get_account(tenant_id: str) -> BillingAccount:
    """The tenant's account; a tenant that never chose has the free plan with a hard stop."""
    return repository.get_account(tenant_id) or BillingAccount(tenant_id=tenant_id)


def update_account(tenant_id: str, change: BillingAccountUpdate, actor: Actor) -> BillingAccount:
    """Change the plan, the enforcement, the spend cap or the billing email. Overage needs a
    plan with an overage price (422 otherwise); a concurrent change is a 409."""
    current = get_account(tenant_id)
    updated = current.model_copy(
        update={
            **change.model_dump(exclude_unset=True),
            "version": current.version + 1,
            "updated_at": utc_now_iso(),
        }
    )
    chosen = plan(updated.plan_id)
    if updated.enforcement == "overage" and chosen.overage_message_minor is None:
        raise ValidationFailed(
            f"the {chosen.name} plan has no overage; choose hard_stop or another plan",
            details={"plan_id": chosen.id, "enforcement": "overage"},
        )
    event = BillingAccountChanged(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"billing/{tenant_id}",
        data=BillingAccountChangedData(
            plan_id=updated.plan_id,
            enforcement=updated.enforcement,
            spend_cap_minor=updated.spend_cap_minor,
            version=updated.version,
        ),
    )
    repository.save_account(updated, [event])
    _allowances.set((tenant_id, current_period()), _allowance(updated, current_period()))
    return updated


def _allowance(account: BillingAccount, period: str) -> MessageAllowance:
    chosen = plan(account.plan_id)
    limit = chosen.included_messages
    if account.enforcement == "overage" and chosen.overage_message_minor:
        limit += account.spend_cap_minor // chosen.overage_message_minor
    _, end = period_bounds(period)
    return MessageAllowance(
        period=period,
        limit=limit,
        included=chosen.included_messages,
        enforcement=account.enforcement,
        resets_at=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def message_allowance(tenant_id: str, now: datetime | None = None) -> MessageAllowance:
    """How many messages the tenant may send in the current period (cached 30 s per
    environment: a warm message path makes no call for it)."""
    period = period_of(now or datetime.now(UTC))
    key = (tenant_id, period)
    found = _allowances.get(key)
    if found is None:
        found = _allowance(get_account(tenant_id), period)
        _allowances.set(key, found)
    return found
