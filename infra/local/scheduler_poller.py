"""One-time EventBridge Scheduler schedules created at run time (``at(...)``), fired locally.

moto stores Scheduler schedules but never fires them. This poller lists them once a second,
and when an enabled one-time schedule is due it delivers the target's ``Input`` the way the
service does for an SQS target (a message on the queue, body = Input), then deletes it when
its ``ActionAfterCompletion`` is DELETE (otherwise it remembers it fired). Recurring
schedules the functions create at run time (``rate``/``cron``) are not fired: the template's
own schedules are fired by ``infra.local.schedules``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger("infra.local")


def due(expression: str, timezone: str | None, now: datetime) -> bool:
    """True when ``at(yyyy-mm-ddThh:mm:ss)`` has come (in its zone, UTC by default)."""
    from zoneinfo import ZoneInfo

    if not (expression.startswith("at(") and expression.endswith(")")):
        return False
    moment = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=ZoneInfo(timezone or "UTC"))
    return moment <= now


class OneTimeSchedules(threading.Thread):
    def __init__(
        self,
        scheduler: Any,
        send: Callable[[str, str], None],
        stop: threading.Event,
        interval: float = 1.0,
    ) -> None:
        super().__init__(name="one-time-schedules", daemon=True)
        self.scheduler = scheduler  # a boto3 Scheduler client on moto
        self.send = send  # (target arn, body) -> delivered
        self.stop_event = stop
        self.interval = interval
        self.fired: list[str] = []

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                self.tick(datetime.now(UTC))
            except Exception:
                LOG.exception("one-time schedules: poll failed")

    def tick(self, now: datetime) -> int:
        """Fire every due one-time schedule once; returns how many fired."""
        count = 0
        pages = self.scheduler.get_paginator("list_schedules").paginate()
        for summary in (s for page in pages for s in page.get("Schedules", [])):
            group = summary.get("GroupName") or "default"
            key = f"{group}/{summary['Name']}"
            if key in self.fired or summary.get("State", "ENABLED") != "ENABLED":
                continue
            schedule = self.scheduler.get_schedule(Name=summary["Name"], GroupName=group)
            zone = schedule.get("ScheduleExpressionTimezone")
            if not due(schedule["ScheduleExpression"], zone, now):
                continue
            target = schedule["Target"]
            self.send(target["Arn"], target.get("Input") or "{}")
            LOG.info("one-time schedule %s fired", key)
            if schedule.get("ActionAfterCompletion") == "DELETE":
                self.scheduler.delete_schedule(Name=summary["Name"], GroupName=group)
            else:
                self.fired.append(key)
            count += 1
        return count
