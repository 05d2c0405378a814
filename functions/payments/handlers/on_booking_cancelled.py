"""SQS consumer: BookingCancelled events of paid bookings (bus → BookingCancelledRule →
BookingRefundsQueue) refund the share the booking's policy gives for the notice. Idempotent:
a replayed event finds the refund made (see payments.logic.bookings)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from agenthub.runtime import entry
from payments.handlers.settings import StripeSettings
from payments.logic import bookings

processor = BatchProcessor(event_type=EventType.SQS)


@entry(StripeSettings)
def handler(event: dict[str, Any], context: Any, settings: StripeSettings) -> dict[str, Any]:
    def record_handler(record: Any) -> None:
        detail = json.loads(record.body)["detail"]
        data = detail["data"]
        percent = data.get("refund_percent")
        if percent is None or not data.get("paid"):
            return
        bookings.refund_cancelled_booking(
            settings.stripe(), detail["tenant_id"], data["booking_id"], percent
        )

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
