"""Scheduled job (EventBridge Scheduler, daily): remove old index versions and replaced chunk
artifacts from the documents bucket, keeping each agent's last two index versions
(``knowledge.logic.collect_garbage``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from agenthub.observability import logger
from agenthub.runtime import init_function
from agenthub.settings import BaseSettings
from knowledge.logic import collect_garbage


class HousekeepingSettings(BaseSettings):
    documents_bucket: str = Field(min_length=3)


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    settings = init_function(HousekeepingSettings)
    report = collect_garbage(settings.documents_bucket, datetime.now(UTC))
    result = report.as_dict()
    logger().info("knowledge housekeeping finished", extra=result)
    return result
