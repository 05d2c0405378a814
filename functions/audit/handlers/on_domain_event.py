"""SQS consumer: every AgentHub domain event (bus → AuditRule → AuditQueue) becomes an audit
entry. Partial batch failures: only failed records return to the queue, and after the queue's
maxReceiveCount they move to the DLQ. Writes are conditional on the event id, so redelivery
never duplicates an entry."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from pydantic import Field

from agenthub.observability import logger, metrics
from agenthub.runtime import init_function
from agenthub.settings import BaseSettings
from audit.logic import service

processor = BatchProcessor(event_type=EventType.SQS)


class ConsumerSettings(BaseSettings):
    audit_retention_days: int = Field(ge=1)


def record_handler(record: Any) -> None:
    try:
        event = json.loads(record.body)
    except ValueError:
        raise service.PoisonEvent("message body is not JSON") from None
    entry = service.entry_from_event(event)
    written = service.record(entry, init_function(ConsumerSettings).audit_retention_days)
    if written:
        metrics().add_metric(name="AuditEntriesWritten", unit=MetricUnit.Count, value=1)
    else:
        logger().info("duplicate delivery ignored", extra={"event_id": entry.event_id})


@metrics().log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    init_function(ConsumerSettings)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
