"""What the API serves: an agent's daily series and a report over a date range, and the
series as CSV. Answers are kept 30 s per environment (the seed's usage-statistics level):
counters move every few seconds, and a dashboard polling them costs one Query per 30 s."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.errors import BadRequest
from analytics.dal import repository
from analytics.dal.repository import DAYS_PAGE
from analytics.logic.counters import tenant_settings
from analytics.logic.rollups import derived, group_similar, normalize
from analytics.models import (
    COUNTERS,
    MAX_EXPORT_DAYS,
    MAX_RANGE_DAYS,
    CostSummary,
    DayCounts,
    DayPoint,
    QuestionCount,
    QuestionGroup,
    Report,
    Series,
)

CACHE_SECONDS = 30
_series: TTLCache[Series] = ttl_cache(CACHE_SECONDS, max_entries=512)
_reports: TTLCache[Report] = ttl_cache(CACHE_SECONDS, max_entries=512)


def date_range(
    start: str | None, end: str | None, today: date, max_days: int = MAX_RANGE_DAYS
) -> tuple[str, str]:
    """Checked [start, end] (``YYYY-MM-DD``, default the last 30 days), at most ``max_days``."""
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError:
        raise BadRequest("'from' and 'to' must be dates (YYYY-MM-DD)") from None
    if first > last:
        raise BadRequest("'from' must not be after 'to'")
    if (last - first).days + 1 > max_days:
        raise BadRequest(f"a range holds at most {max_days} days")
    return first.isoformat(), last.isoformat()


def _each_day(start: str, end: str) -> Iterator[str]:
    day, last = date.fromisoformat(start), date.fromisoformat(end)
    while day <= last:
        yield day.isoformat()
        day += timedelta(days=1)


def series(
    tenant_id: str, agent_id: str, start: str, end: str, *, use_cache: bool = True
) -> Series:
    """Every day of the range (zeros where nothing happened), from one Query."""
    key = (tenant_id, agent_id, start, end)
    found = _series.get(key) if use_cache else None
    if found is not None:
        return found
    records = {r.day: r for r in repository.days(tenant_id, agent_id, start, end)}
    points = []
    for day in _each_day(start, end):
        record = records.get(day)
        counts = record.counts if record else DayCounts()
        points.append(
            DayPoint(
                day=day,
                counts=counts,
                revenue_minor=dict(record.revenue) if record else {},
                answer_rate=derived(counts)["answer_rate"],
            )
        )
    found = Series(
        agent_id=agent_id,
        time_zone=tenant_settings(tenant_id).time_zone,
        start=start,
        end=end,
        days=points,
    )
    _series.set(key, found)
    return found


def csv_lines(tenant_id: str, agent_id: str, start: str, end: str) -> Iterator[str]:
    """The range as CSV, a line at a time: a header, then one line per day (zeros where
    nothing happened). Reads are paged (``repository.DAYS_PAGE`` days at a time), so memory is
    bounded whatever the range: a first pass finds the revenue currencies (the header's
    columns), the second writes the days. Not cached: an export reads through."""
    currencies = sorted(
        {
            c
            for r in repository.iter_days(tenant_id, agent_id, start, end, page_size=DAYS_PAGE)
            for c in r.revenue
        }
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")

    def line(row: list[object]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(row)
        return out.getvalue()

    yield line(["day", *COUNTERS, "answer_rate", *(f"revenue_minor_{c}" for c in currencies)])
    records = repository.iter_days(tenant_id, agent_id, start, end, page_size=DAYS_PAGE)
    pending = next(records, None)
    for day in _each_day(start, end):
        record = None
        if pending is not None and pending.day == day:
            record, pending = pending, next(records, None)
        counts = record.counts if record else DayCounts()
        revenue = record.revenue if record else {}
        rate = derived(counts)["answer_rate"]
        yield line(
            [
                day,
                *(getattr(counts, name) for name in COUNTERS),
                "" if rate is None else rate,
                *(revenue.get(c, 0) for c in currencies),
            ]
        )


def report(
    tenant_id: str, agent_id: str, start: str, end: str, *, use_cache: bool = True
) -> Report:
    """Totals, rates and the funnel over the range from the counters; top and unanswered
    questions merged from the days the nightly job rolled up."""
    key = (tenant_id, agent_id, start, end)
    found = _reports.get(key) if use_cache else None
    if found is not None:
        return found
    records = repository.days(tenant_id, agent_id, start, end)
    totals = DayCounts()
    revenue: Counter[str] = Counter()
    asked: dict[str, Counter[str]] = {}
    unanswered: Counter[str] = Counter()
    wordings: dict[str, list[str]] = {}  # a day's group → its examples
    rolled_up = 0
    for record in records:
        for name in COUNTERS:
            setattr(totals, name, getattr(totals, name) + getattr(record.counts, name))
        revenue.update(record.revenue)
        if record.rollup is None:
            continue
        rolled_up += 1
        for item in record.rollup.top_questions:
            asked.setdefault(normalize(item.question), Counter())[item.question] += item.count
        for group in record.rollup.unanswered_questions:
            unanswered[group.question] += group.count
            wordings.setdefault(group.question, []).extend(group.examples)
    ranked = sorted(asked.values(), key=lambda c: -sum(c.values()))[:10]
    rates = derived(totals)
    found = Report(
        agent_id=agent_id,
        time_zone=tenant_settings(tenant_id).time_zone,
        start=start,
        end=end,
        totals=totals,
        revenue_minor=dict(revenue),
        **rates,
        cost=CostSummary(
            total_micros=totals.cost_micros,
            per_conversation_micros=rates["cost_per_conversation_micros"],
            unpriced_messages=totals.unpriced_messages,
        ),
        top_questions=[
            QuestionCount(question=c.most_common(1)[0][0], count=sum(c.values())) for c in ranked
        ],
        unanswered_questions=_with_examples(group_similar(list(unanswered.items())), wordings),
        rolled_up_days=rolled_up,
    )
    _reports.set(key, found)
    return found


def _with_examples(
    groups: list[QuestionGroup], wordings: dict[str, list[str]]
) -> list[QuestionGroup]:
    """The range's groups show the wordings of the days' groups they merged (three at most)."""
    for group in groups:
        seen = dict.fromkeys(w for q in group.examples for w in [q, *wordings.get(q, [])])
        group.examples = list(seen)[:3]
    return groups


def _checked(
    tenant_id: str,
    agent_id: str,
    start: str | None,
    end: str | None,
    *,
    max_days: int = MAX_RANGE_DAYS,
) -> tuple[str, str]:
    """The range in the tenant's zone; another tenant's (or no) agent is a 404."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from agents.logic import get_agent

    get_agent(tenant_id, agent_id)
    zone = ZoneInfo(tenant_settings(tenant_id).time_zone)
    return date_range(start, end, datetime.now(UTC).astimezone(zone).date(), max_days)


def agent_series(
    tenant_id: str, agent_id: str, start: str | None, end: str | None, *, use_cache: bool = True
) -> Series:
    checked = _checked(tenant_id, agent_id, start, end)
    return series(tenant_id, agent_id, *checked, use_cache=use_cache)


def agent_csv(tenant_id: str, agent_id: str, start: str | None, end: str | None) -> Iterator[str]:
    """The export: ranges up to ``MAX_EXPORT_DAYS`` (longer than the JSON routes': it is
    streamed from paged reads)."""
    checked = _checked(tenant_id, agent_id, start, end, max_days=MAX_EXPORT_DAYS)
    return csv_lines(tenant_id, agent_id, *checked)


def agent_report(
    tenant_id: str, agent_id: str, start: str | None, end: str | None, *, use_cache: bool = True
) -> Report:
    checked = _checked(tenant_id, agent_id, start, end)
    return report(tenant_id, agent_id, *checked, use_cache=use_cache)
