"""Analytics persistence: an agent's days (counters, revenue per currency, rollups) share one
partition, so a date range is one Query; the days an agent had activity are indexed on gsi1
(every tenant) for the nightly rollup; the questions answered on an agent's day have a
partition of their own (``STATSQ``), so the rollup reads one partition per agent-day. Counting
an event is one TransactWriteItems: its id's marker (condition: absent), the ADDs and the
question's item, so a redelivery changes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from agenthub import keys, outbox
from agenthub.errors import is_condition_failure
from agenthub.table import TableItem
from analytics.dal.items import (
    AnalyticsConsumedEventItem,
    AnalyticsSettingsItem,
    ModelPriceItem,
    RollupItem,
    StatsCounterItem,
    StatsQuestionItem,
    StatsRevenueItem,
)
from analytics.models import (
    COUNTERS,
    AnalyticsSettings,
    DayCounts,
    ModelPrice,
    Rollup,
    StatsDelta,
)

# Questions are copies of visitors' words: kept long enough for the nightly runs and their
# retries over the two days before today, not longer.
KEEP_QUESTIONS = timedelta(days=35)


def apply(delta: StatsDelta, keep_marker_until: datetime) -> bool:
    """Count ``delta`` once: False when its event was counted before."""
    pk = keys.stats_pk(delta.tenant_id, delta.agent_id)

    def build(t: TransactWrite) -> None:
        t.save(
            AnalyticsConsumedEventItem(
                pk=keys.consumed_event_pk(delta.tenant_id, "analytics", delta.event_id),
                sk=keys.CONSUMED_EVENT_SK,
                expires_at=keep_marker_until,
            ),
            condition=AnalyticsConsumedEventItem.pk.does_not_exist(),
        )
        added = [getattr(StatsCounterItem, n).add(v) for n, v in delta.counts.items() if v]
        if added:
            t.update(
                StatsCounterItem(pk=pk, sk=keys.stats_day_sk(delta.day)),
                actions=[
                    StatsCounterItem.entity.set(StatsCounterItem),
                    StatsCounterItem.tenant_id.set(delta.tenant_id),
                    StatsCounterItem.agent_id.set(delta.agent_id),
                    StatsCounterItem.day.set(delta.day),
                    StatsCounterItem.gsi1pk.set(keys.stats_days_gsi1pk(delta.day)),
                    StatsCounterItem.gsi1sk.set(
                        keys.stats_days_gsi1sk(delta.tenant_id, delta.agent_id)
                    ),
                    *added,
                ],
            )
        if delta.revenue is not None:
            currency, amount = delta.revenue
            t.update(
                StatsRevenueItem(pk=pk, sk=keys.stats_revenue_sk(delta.day, currency)),
                actions=[
                    StatsRevenueItem.entity.set(StatsRevenueItem),
                    StatsRevenueItem.day.set(delta.day),
                    StatsRevenueItem.currency.set(currency),
                    StatsRevenueItem.amount_minor.add(amount),
                ],
            )
        if delta.question is not None:
            t.save(_question_item(delta))

    try:
        outbox.write(build, [])
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            return False
        raise
    return True


def _question_item(delta: StatsDelta) -> StatsQuestionItem:
    assert delta.question is not None
    return StatsQuestionItem(
        pk=keys.stats_questions_pk(delta.tenant_id, delta.agent_id, delta.day),
        sk=keys.stats_question_sk(delta.question.message_id),
        text=delta.question.text,
        abstained=delta.question.abstained,
        expires_at=datetime.now(UTC) + KEEP_QUESTIONS,
    )


def backfill(deltas: Iterable[StatsDelta]) -> int:
    """Write many events' items into days that hold none yet, with batch writes instead of
    one transaction per event: the same items ``apply`` builds (counters summed per day,
    revenue per day and currency, one item per question), without the idempotency markers.
    For replaying an archive into an empty range, and for seeding the rollup benchmark. The
    number of items written."""
    counters: dict[tuple[str, str, str], dict[str, int]] = {}
    revenue: dict[tuple[str, str, str, str], int] = {}
    written = 0
    with TableItem.batch_write() as batch:
        for delta in deltas:
            cell = counters.setdefault((delta.tenant_id, delta.agent_id, delta.day), {})
            for name, value in delta.counts.items():
                cell[name] = cell.get(name, 0) + value
            if delta.revenue is not None:
                key = (delta.tenant_id, delta.agent_id, delta.day, delta.revenue[0])
                revenue[key] = revenue.get(key, 0) + delta.revenue[1]
            if delta.question is not None:
                batch.save(_question_item(delta))
                written += 1
        for (tenant_id, agent_id, day), counts in counters.items():
            item = StatsCounterItem(
                pk=keys.stats_pk(tenant_id, agent_id),
                sk=keys.stats_day_sk(day),
                tenant_id=tenant_id,
                agent_id=agent_id,
                day=day,
                gsi1pk=keys.stats_days_gsi1pk(day),
                gsi1sk=keys.stats_days_gsi1sk(tenant_id, agent_id),
            )
            for name, value in counts.items():
                setattr(item, name, value)
            batch.save(item)
        for (tenant_id, agent_id, day, currency), amount in revenue.items():
            batch.save(
                StatsRevenueItem(
                    pk=keys.stats_pk(tenant_id, agent_id),
                    sk=keys.stats_revenue_sk(day, currency),
                    day=day,
                    currency=currency,
                    amount_minor=amount,
                )
            )
    return written + len(counters) + len(revenue)


def day_questions(tenant_id: str, agent_id: str, day: str) -> Iterator[tuple[str, bool]]:
    """(text, abstained) of every question filed under the agent's day: one partition,
    read in DynamoDB's 1 MB pages."""
    pk = keys.stats_questions_pk(tenant_id, agent_id, day)
    # Only what the rollup uses (and the discriminator): less to send per item.
    wanted = ["entity", "text", "abstained"]
    for item in StatsQuestionItem.query(pk, attributes_to_get=wanted):
        yield item.text, bool(item.abstained)


@dataclass
class DayRecord:
    day: str
    counts: DayCounts = field(default_factory=DayCounts)
    revenue: dict[str, int] = field(default_factory=dict)
    rollup: Rollup | None = None


# Days read per Query page when a range is walked item by item (the CSV export): memory is
# bounded by a page, whatever the range.
DAYS_PAGE = 64


def iter_days(
    tenant_id: str, agent_id: str, start: str, end: str, *, page_size: int | None = None
) -> Iterator[DayRecord]:
    """The agent's days with counters or revenue in [start, end], oldest first, without their
    rollups: one Query (pages of ``page_size`` items, else DynamoDB's 1 MB pages), a day
    yielded once its items are read."""
    pk = keys.stats_pk(tenant_id, agent_id)
    condition = TableItem.sk.between(keys.stats_day_sk(start), keys.stats_day_sk(end) + "#~")
    current: DayRecord | None = None
    for item in TableItem.query(pk, condition, page_size=page_size):
        if not isinstance(item, StatsCounterItem | StatsRevenueItem):
            continue
        if current is None or current.day != item.day:
            if current is not None:
                yield current
            current = DayRecord(item.day)
        if isinstance(item, StatsCounterItem):
            current.counts = DayCounts(**{n: int(getattr(item, n) or 0) for n in COUNTERS})
        else:
            current.revenue[item.currency] = int(item.amount_minor or 0)
    if current is not None:
        yield current


def days(tenant_id: str, agent_id: str, start: str, end: str) -> list[DayRecord]:
    """The agent's days in [start, end] (local dates) with their rollups, oldest first: one
    Query for the counters, one for the rollups."""
    found = {record.day: record for record in iter_days(tenant_id, agent_id, start, end)}
    pk = keys.stats_pk(tenant_id, agent_id)
    rollups = TableItem.query(pk, TableItem.sk.between(keys.rollup_sk(start), keys.rollup_sk(end)))
    for item in rollups:
        if isinstance(item, RollupItem):
            found.setdefault(item.day, DayRecord(item.day)).rollup = Rollup.model_validate(
                item.rollup
            )
    return [found[day] for day in sorted(found)]


def agents_active_on(day: str) -> Iterator[tuple[str, str]]:
    """(tenant id, agent id) of every agent with counters on ``day`` (gsi1)."""
    for item in StatsCounterItem.gsi1.query(keys.stats_days_gsi1pk(day)):
        if isinstance(item, StatsCounterItem):
            yield item.tenant_id, item.agent_id


def put_rollup(tenant_id: str, agent_id: str, rollup: Rollup) -> None:
    RollupItem(
        pk=keys.stats_pk(tenant_id, agent_id),
        sk=keys.rollup_sk(rollup.day),
        day=rollup.day,
        rollup=rollup.model_dump(mode="json"),
    ).save()


def get_settings(tenant_id: str) -> AnalyticsSettings:
    try:
        item = AnalyticsSettingsItem.get(keys.tenant_pk(tenant_id), keys.ANALYTICS_SETTINGS_SK)
    except DoesNotExist:
        return AnalyticsSettings()
    return AnalyticsSettings(time_zone=item.time_zone)


def put_settings(tenant_id: str, settings: AnalyticsSettings) -> None:
    AnalyticsSettingsItem(
        pk=keys.tenant_pk(tenant_id), sk=keys.ANALYTICS_SETTINGS_SK, time_zone=settings.time_zone
    ).save()


def list_prices() -> list[ModelPrice]:
    return [
        ModelPrice(
            model=item.model,
            input_micros_per_1k=int(item.input_micros_per_1k),
            output_micros_per_1k=int(item.output_micros_per_1k),
        )
        for item in ModelPriceItem.query(keys.MODEL_PRICES_PK, consistent_read=True)
    ]


def seed_price(price: ModelPrice) -> bool:
    """Store ``price`` unless the model has one (an operator's edits are kept)."""
    item = ModelPriceItem(
        pk=keys.MODEL_PRICES_PK,
        sk=keys.model_price_sk(price.model),
        model=price.model,
        input_micros_per_1k=price.input_micros_per_1k,
        output_micros_per_1k=price.output_micros_per_1k,
    )
    try:
        item.save(condition=ModelPriceItem.pk.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
