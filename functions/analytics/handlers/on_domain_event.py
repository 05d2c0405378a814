"""SQS consumer: the events analytics counts (bus → AnalyticsRule → AnalyticsEventsQueue)
become per-agent daily counters. Partial batch failures; after the queue's maxReceiveCount a
message moves to the DLQ (alarmed). Idempotent on the event id."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from agenthub.events import read_delivery
from agenthub.observability import metrics
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from analytics.logic import counters

processor = BatchProcessor(event_type=EventType.SQS)


@entry(BaseSettings)
def handler(event: dict[str, Any], context: Any, settings: BaseSettings) -> dict[str, Any]:
    def record_handler(record: Any) -> None:
        if counters.record(read_delivery(record.body)):
            metrics().add_metric(name="AnalyticsEventsCounted", unit=MetricUnit.Count, value=1)

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
