"""SQS consumer of the Stripe events queue: each message is one verified Stripe event,
applied idempotently (see payments.logic.webhooks.process). Partial batch failures: a
message whose processing failed (Stripe or DynamoDB unavailable) returns to the queue and,
after the queue's maxReceiveCount, moves to the DLQ (alarmed)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from agenthub.observability import logger
from agenthub.runtime import entry
from payments.handlers.settings import StripeSettings
from payments.logic import webhooks

processor = BatchProcessor(event_type=EventType.SQS)


@entry(StripeSettings)
def handler(event: dict[str, Any], context: Any, settings: StripeSettings) -> dict[str, Any]:
    def record_handler(record: Any) -> None:
        message = webhooks.StripeEventMessage.model_validate_json(record.body)
        outcome = webhooks.process(settings.stripe(), message)
        logger().info(
            "stripe event",
            extra={"event_id": message.event_id, "type": message.type, "result": outcome.result},
        )

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
