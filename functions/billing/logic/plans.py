"""Plans are data: seeded into the table once (an operator's later edits are kept) and read
with a short per-environment cache, so an edited plan takes effect within a minute."""

from __future__ import annotations

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.errors import NotFound
from billing.dal import repository
from billing.models import Plan, PlanId

PLAN_CACHE_SECONDS = 60

# The seed. Prices in US cents; a pro or business tenant may choose overage beyond the
# included messages at the plan's price per message, up to its spend cap.
DEFAULT_PLANS = (
    Plan(
        id="free",
        name="Free",
        monthly_fee_minor=0,
        included_messages=100,
        included_pages=50,
        overage_message_minor=None,
    ),
    Plan(
        id="pro",
        name="Pro",
        monthly_fee_minor=4900,
        included_messages=2000,
        included_pages=2000,
        overage_message_minor=2,
    ),
    Plan(
        id="business",
        name="Business",
        monthly_fee_minor=19900,
        included_messages=10000,
        included_pages=20000,
        overage_message_minor=1,
    ),
)

_plans: TTLCache[dict[str, Plan]] = ttl_cache(PLAN_CACHE_SECONDS, max_entries=1)


def seed_plans() -> list[str]:
    """Write the default plans that are missing; the ids written."""
    return [plan.id for plan in DEFAULT_PLANS if repository.seed_plan(plan)]


def all_plans() -> dict[str, Plan]:
    """Every plan by id (seeding the table the first time it has none)."""
    found = _plans.get("plans")
    if found is None:
        stored = repository.list_plans()
        if len(stored) < len(DEFAULT_PLANS):
            seed_plans()
            stored = repository.list_plans()
        found = {plan.id: plan for plan in stored}
        _plans.set("plans", found)
    return found


def plan(plan_id: PlanId | str) -> Plan:
    found = all_plans().get(plan_id)
    if found is None:
        raise NotFound(f"no plan '{plan_id}'")
    return found
