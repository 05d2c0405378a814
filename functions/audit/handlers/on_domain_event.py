"""SQS consumer: every AgentHub domain event (bus → AuditRule → AuditQueue) becomes an audit
entry. Partial batch failures: only failed records return to the queue, and after the queue's
maxReceiveCount they move to the DLQ. Writes are conditional on the event id, so redelivery
never duplicates an entry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from pydantic import Field

from agenthub.observability import metrics
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from audit.logic import service

processor = BatchProcessor(event_type=EventType.SQS)


class ConsumerSettings(BaseSettings):
    audit_retention_days: int = Field(ge=1)


@entry(ConsumerSettings)
def handler(event: dict[str, Any], context: Any, settings: ConsumerSettings) -> dict[str, Any]:
    def record_handler(record: Any) -> None:
        if service.record_delivery(record.body, settings.audit_retention_days):
            metrics().add_metric(name="AuditEntriesWritten", unit=MetricUnit.Count, value=1)

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
