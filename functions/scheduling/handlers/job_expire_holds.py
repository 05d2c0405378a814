"""Scheduled job (every minute): release holds whose expiry passed.

The slots of expired holds are free already (expiry is in every lock's write condition);
this job sets their status to expired, gives their limit-counter units back and removes the
hold markers, so payments and the tenant see the truth within about a minute.
"""

from __future__ import annotations

from typing import Any

from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from scheduling.logic import bookings


@entry(BaseSettings)
def handler(event: dict[str, Any] | None, context: Any, settings: BaseSettings) -> dict[str, Any]:
    released = bookings.sweep_expired_holds()
    if released:
        logger().info("expired holds released", extra={"released": released})
    return {"released": released}
