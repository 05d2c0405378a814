"""Scheduled job (every 15 minutes): import busy times from every resource's external ICS
URL through knowledge's SSRF-safe fetcher; each resource records its own outcome."""

from __future__ import annotations

from typing import Any

from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from scheduling.logic import feeds


class CalendarSyncSettings(BaseSettings):
    allow_private_urls: bool = False  # local runtime only: lets imports reach 127.0.0.1


@entry(CalendarSyncSettings)
def handler(
    event: dict[str, Any] | None, context: Any, settings: CalendarSyncSettings
) -> dict[str, Any]:
    result = feeds.sync_all(allow_private=settings.allow_private_urls)
    logger().info("calendar sync finished", extra=result)
    return result
