"""Every minute: open checkouts of held bookings whose hold has ended are re-checked with
Stripe, expired there, and their holds released (or, if Stripe says they were paid, applied
as payments). See payments.logic.bookings."""

from __future__ import annotations

from typing import Any

from agenthub.observability import logger
from agenthub.runtime import entry
from payments.handlers.settings import StripeSettings
from payments.logic import bookings


@entry(StripeSettings)
def handler(event: dict[str, Any], context: Any, settings: StripeSettings) -> dict[str, int]:
    counts = bookings.expire_unpaid_holds(settings.stripe())
    if any(counts.values()):
        logger().info("unpaid holds", extra=counts)
    return counts
