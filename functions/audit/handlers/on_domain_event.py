"""SQS consumer: every AgentHub domain event (bus → AuditRule → AuditQueue) becomes an audit
entry. Partial batch failures: only failed records return to the queue, and after the queue's
maxReceiveCount they move to the DLQ. Writes are conditional on the event id, so redelivery
never duplicates an entry.

Every event passes here, so this is where the business metrics of all domains are counted:
``DomainEvents`` by ``type`` (answers, documents indexed, bookings, payments...), once per event
(a redelivery is not counted again); the operations dashboard graphs them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
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
DOMAIN_EVENTS_METRIC = "DomainEvents"


class ConsumerSettings(BaseSettings):
    audit_retention_days: int = Field(ge=1)


@entry(ConsumerSettings)
def handler(event: dict[str, Any], context: Any, settings: ConsumerSettings) -> dict[str, Any]:
    written_types: Counter[str] = Counter()

    def record_handler(record: Any) -> None:
        event_type = service.record_delivery(record.body, settings.audit_retention_days)
        if event_type:
            metrics().add_metric(name="AuditEntriesWritten", unit=MetricUnit.Count, value=1)
            written_types[event_type] += 1

    try:
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
    finally:
        _count_domain_events(written_types)


def _count_domain_events(written_types: Counter[str]) -> None:
    """One metric per event type seen in this batch (a type is a dimension: a few dozen, never
    a tenant or an id)."""
    for event_type, count in sorted(written_types.items()):
        with single_metric(
            name=DOMAIN_EVENTS_METRIC,
            unit=MetricUnit.Count,
            value=count,
            default_dimensions={"type": event_type},
        ):
            pass
