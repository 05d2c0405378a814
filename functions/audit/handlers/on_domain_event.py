"""SQS consumer: every AgentHub domain event (bus → AuditRule → AuditQueue) becomes an audit
entry. Partial batch failures: only failed records return to the queue, and after the queue's
maxReceiveCount they move to the DLQ. Writes are conditional on the event id, so redelivery
never duplicates an entry.

Every event passes here, so this is where the business metrics of all domains are counted:
``DomainEvents`` by ``type`` (answers, documents indexed, bookings, payments...), once per event
(a redelivery is not counted again); the operations dashboard graphs them."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
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
DOMAIN_EVENTS_METRIC = "DomainEvents"
_written_types: Counter[str] = Counter()


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
        _written_types[entry.type] += 1
    else:
        logger().info("duplicate delivery ignored", extra={"event_id": entry.event_id})


@metrics().log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    init_function(ConsumerSettings)
    _written_types.clear()
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        _count_domain_events()


def _count_domain_events() -> None:
    """One metric per event type seen in this batch (a type is a dimension: a few dozen, never
    a tenant or an id)."""
    for event_type, count in sorted(_written_types.items()):
        with single_metric(
            name=DOMAIN_EVENTS_METRIC,
            unit=MetricUnit.Count,
            value=count,
            default_dimensions={"type": event_type},
        ):
            pass
