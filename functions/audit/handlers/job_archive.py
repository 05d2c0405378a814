"""Scheduled job (EventBridge Scheduler, daily): archive audit entries past retention to S3.

The event may carry ``{"as_of": "YYYY-MM-DD"}`` to run for another day (backfill, tests);
the scheduler's own event carries nothing and means today (UTC).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from audit.logic import service


class ArchiveSettings(BaseSettings):
    audit_retention_days: int = Field(ge=1)
    archive_bucket: str = Field(min_length=3)


@entry(ArchiveSettings)
def handler(
    event: dict[str, Any] | None, context: Any, settings: ArchiveSettings
) -> dict[str, Any]:
    as_of = (event or {}).get("as_of")
    today = date.fromisoformat(as_of) if as_of else service.today_utc()
    result = service.archive(today, settings.audit_retention_days, settings.archive_bucket)
    logger().info("audit archive finished", extra=result)
    return result
