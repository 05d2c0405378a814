"""SQS consumer: domain events billing counts (bus → BillingRule → BillingEventsQueue) go into
the usage ledger; UsageThresholdReached (billing's own, back from the bus) is mailed. Partial
batch failures: only failed records return to the queue, and after its maxReceiveCount they
move to the DLQ (alarmed). Counting is idempotent on the event id."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from pydantic import Field

from agenthub.events import read_delivery
from agenthub.observability import metrics
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from billing.logic import ledger, notices

processor = BatchProcessor(event_type=EventType.SQS)


class ConsumerSettings(BaseSettings):
    notification_sender: str = Field(min_length=3)


@entry(ConsumerSettings)
def handler(event: dict[str, Any], context: Any, settings: ConsumerSettings) -> dict[str, Any]:
    def record_handler(record: Any) -> None:
        counted = read_delivery(record.body)
        if counted.type == "UsageThresholdReached":
            if notices.mail_warning(counted, settings.notification_sender):
                metrics().add_metric(name="UsageWarningsMailed", unit=MetricUnit.Count, value=1)
        elif ledger.record(counted):
            metrics().add_metric(name="UsageEventsCounted", unit=MetricUnit.Count, value=1)

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
