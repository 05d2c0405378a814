"""Scheduled job (EventBridge Scheduler, every 15 minutes): documents stuck in "processing"
after their last ingestion attempt timed out are marked failed (knowledge.logic.sweeper)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from knowledge.logic import sweeper


class SweepSettings(BaseSettings):
    stuck_after_minutes: int = Field(default=30, ge=10)


@entry(SweepSettings)
def handler(event: dict[str, Any], context: Any, settings: SweepSettings) -> dict[str, Any]:
    marked = sweeper.sweep_stuck(datetime.now(UTC), timedelta(minutes=settings.stuck_after_minutes))
    logger().info("stuck documents marked failed", extra={"marked": marked})
    return {"marked_failed": marked}
