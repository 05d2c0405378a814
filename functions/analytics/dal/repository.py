"""Analytics persistence: an agent's days (counters, revenue per currency, rollups) share one
partition, so a date range is one Query; the days an agent had activity are indexed on gsi1
(every tenant) for the nightly rollup. Counting an event is one TransactWriteItems: its id's
marker (condition: absent) and the ADDs, so a redelivery changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from agenthub import keys, outbox
from agenthub.table import TableItem
from analytics.dal.items import (
    AnalyticsConsumedEventItem,
    AnalyticsSettingsItem,
    RollupItem,
    StatsCounterItem,
    StatsRevenueItem,
)
from analytics.models import COUNTERS, AnalyticsSettings, DayCounts, Rollup, StatsDelta


def apply(delta: StatsDelta, keep_marker_until: datetime) -> bool:
    """Count ``delta`` once: False when its event was counted before."""
    pk = keys.stats_pk(delta.tenant_id, delta.agent_id)
    day_sk = keys.stats_day_sk(delta.day)

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
                StatsCounterItem(pk=pk, sk=day_sk),
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

    try:
        outbox.write(build, [])
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            return False
        raise
    return True


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
