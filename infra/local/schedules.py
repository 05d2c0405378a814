"""Schedules (``Type: Schedule`` and ``Type: ScheduleV2``): fired on their expression while the
runtime runs, and on demand through ``POST /__local__/schedules/<Function>/<Event>``.

Supported expressions: ``rate(N unit)``, ``cron(min hour day-of-month month day-of-week
year)`` with ``*``, ``?``, lists, ranges, steps and month/day names (not ``L``, ``W``, ``#``),
and ``at(yyyy-mm-ddThh:mm:ss)``. A rate schedule first fires one period after start, so
``rate(1 day)`` never fires on its own during a working session.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from infra.local import ACCOUNT_ID, REGION
from infra.local.template import ScheduleTrigger

LOG = logging.getLogger("infra.local")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


class UnsupportedExpression(ValueError):
    """A schedule expression this emulation cannot evaluate."""


def _field(text: str, low: int, high: int, names: list[str] | None = None) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        if any(mark in part for mark in ("L", "W", "#")) and not (names and part in names):
            raise UnsupportedExpression(f"cron field {text!r}")
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, names, low), _value(last, names, low)
        else:
            start = _value(base, names, low)
            end = high if step else start
        values.update(range(start, end + 1, int(step) if step else 1))
    return {v for v in values if low <= v <= high}


def _value(text: str, names: list[str] | None, low: int) -> int:
    if names and text.upper() in names:
        return names.index(text.upper()) + low
    return int(text)


def next_fire(expression: str, after: datetime, timezone: str = "UTC") -> datetime | None:
    """The first time strictly after ``after`` (aware) the expression fires; None if never."""
    rate = _RATE.match(expression.strip())
    if rate:
        unit = rate.group(2).rstrip("s")
        return after + timedelta(seconds=int(rate.group(1)) * _UNITS[unit])
    if expression.startswith("at(") and expression.endswith(")"):
        moment = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=ZoneInfo(timezone))
        return moment if moment > after else None
    if expression.startswith("cron(") and expression.endswith(")"):
        return _next_cron(expression[5:-1].split(), after.astimezone(ZoneInfo(timezone)))
    raise UnsupportedExpression(expression)


def _next_cron(fields: list[str], after: datetime) -> datetime | None:
    if len(fields) != 6:
        raise UnsupportedExpression(" ".join(fields))
    minutes = _field(fields[0], 0, 59)
    hours = _field(fields[1], 0, 23)
    days = _field(fields[2], 1, 31)
    months = _field(fields[3], 1, 12, _MONTHS)
    weekdays = _field(fields[4], 1, 7, _DAYS)  # 1 = Sunday
    years = _field(fields[5], 1970, 2199)
    day = after.replace(second=0, microsecond=0)
    # Day by day for up to five years, then the first matching minute of a matching day.
    for _ in range(5 * 366):
        weekday = (day.isoweekday() % 7) + 1
        day_ok = (fields[2] == "?" or day.day in days) and (fields[4] == "?" or weekday in weekdays)
        if day_ok and day.month in months and day.year in years:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate > after:
                        return candidate
        day = (day + timedelta(days=1)).replace(hour=0, minute=0)
    return None


def schedule_event(trigger: ScheduleTrigger) -> Any:
    """What the target receives: the template's Input, or what the service sends without one."""
    if trigger.input is not None:
        return json.loads(trigger.input) if isinstance(trigger.input, str) else trigger.input
    if trigger.kind == "ScheduleV2":
        return {}  # EventBridge Scheduler's Lambda target without Input
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rule = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{trigger.function}{trigger.event_name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now,
        "region": REGION,
        "resources": [rule],
        "detail": {},
    }


class Scheduler(threading.Thread):
    """Fires enabled schedules at their times (asynchronously, as the services do)."""

    def __init__(
        self,
        triggers: list[ScheduleTrigger],
        fire: Callable[[ScheduleTrigger], Any],
        stop: threading.Event,
    ) -> None:
        super().__init__(name="schedules", daemon=True)
        self.fire = fire
        self.stop_event = stop
        self.due: dict[int, tuple[datetime, ScheduleTrigger]] = {}
        now = datetime.now(UTC)
        for index, trigger in enumerate(triggers):
            if not trigger.enabled:
                continue
            try:
                when = next_fire(trigger.expression, now, trigger.timezone)
            except UnsupportedExpression as exc:
                LOG.warning(
                    "%s/%s: %s; fire it on demand", trigger.function, trigger.event_name, exc
                )
                continue
            if when is not None:
                self.due[index] = (when, trigger)

    def run(self) -> None:
        while not self.stop_event.is_set() and self.due:
            index, (when, trigger) = min(self.due.items(), key=lambda item: item[1][0])
            wait = (when - datetime.now(UTC)).total_seconds()
            if wait > 0:
                self.stop_event.wait(min(wait, 60.0))
                continue
            LOG.info("schedule %s/%s fires", trigger.function, trigger.event_name)
            threading.Thread(target=self.fire, args=(trigger,), daemon=True).start()
            following = next_fire(trigger.expression, when, trigger.timezone)
            if following is None:
                del self.due[index]
            else:
                self.due[index] = (following, trigger)
