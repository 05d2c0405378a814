"""Scheduled job (EventBridge Scheduler, nightly, retries and a DLQ): roll up every active
agent's local days. The event may carry ``{"days": ["YYYY-MM-DD", ...]}``; the scheduler's own
event means the two days before today (UTC), so every time zone's yesterday is complete by
the second run that covers it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from analytics.logic import rollups


@entry(BaseSettings)
def handler(event: dict[str, Any] | None, context: Any, settings: BaseSettings) -> dict[str, Any]:
    days = (event or {}).get("days")
    if not days:
        today = datetime.now(UTC).date()
        days = [(today - timedelta(days=n)).isoformat() for n in (2, 1)]
    result = rollups.run([str(day) for day in days])
    logger().info("analytics rollup finished", extra=result)
    return result
