"""pynamodb items of the analytics domain (stay inside dal/)."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from agenthub.table import TableItem


class StatsCounterItem(TableItem, discriminator="stats_counter"):
    """An agent's counters of one local day (top-level numbers: DynamoDB's ADD needs them)."""

    tenant_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    day = UnicodeAttribute()
    conversations = NumberAttribute(null=True)
    messages = NumberAttribute(null=True)
    answered = NumberAttribute(null=True)
    abstained = NumberAttribute(null=True)
    feedback_up = NumberAttribute(null=True)
    feedback_down = NumberAttribute(null=True)
    leads = NumberAttribute(null=True)
    handoffs = NumberAttribute(null=True)
    bookings = NumberAttribute(null=True)
    payments = NumberAttribute(null=True)
    tokens_in = NumberAttribute(null=True)
    tokens_out = NumberAttribute(null=True)
    cost_micros = NumberAttribute(null=True)
    unpriced_messages = NumberAttribute(null=True)


class StatsRevenueItem(TableItem, discriminator="stats_revenue"):
    """An agent's revenue of one local day in one currency (payments less refunds)."""

    day = UnicodeAttribute()
    currency = UnicodeAttribute()
    amount_minor = NumberAttribute(null=True)


class StatsQuestionItem(TableItem, discriminator="stats_question"):
    """A visitor question answered (or abstained on) on the agent's local day; expires."""

    text = UnicodeAttribute()
    abstained = BooleanAttribute(default=False)


class RollupItem(TableItem, discriminator="stats_rollup"):
    day = UnicodeAttribute()
    rollup = JSONAttribute()


class AnalyticsSettingsItem(TableItem, discriminator="analytics_settings"):
    time_zone = UnicodeAttribute()


class AnalyticsConsumedEventItem(TableItem, discriminator="analytics_consumed_event"):
    """An event id the counters have counted."""


class ModelPriceItem(TableItem, discriminator="model_price"):
    """A model's configured price: platform data, seeded once and editable in the table."""

    model = UnicodeAttribute()
    input_micros_per_1k = NumberAttribute()
    output_micros_per_1k = NumberAttribute()
