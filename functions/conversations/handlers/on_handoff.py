"""SQS consumer of the live handoff (HandoffWorkerFunction): HandoffEventsQueue (bus ->
HandoffRule) and HandoffTimeoutQueue; what each message does is
conversations.logic.handoff_worker. Partial batch failures; every step is idempotent."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from pydantic import Field

from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from conversations.logic.handoff_worker import HandoffWorker
from conversations.logic.realtime import Channel
from conversations.logic.transcripts import Mailer

processor = BatchProcessor(event_type=EventType.SQS)


class HandoffWorkerSettings(BaseSettings):
    handoff_timeout_queue_url: str = Field(min_length=1)
    handoff_sender_email: str = Field(min_length=3)
    realtime_endpoint: str | None = None


@entry(HandoffWorkerSettings)
def handler(event: dict[str, Any], context: Any, settings: HandoffWorkerSettings) -> dict[str, Any]:
    worker = HandoffWorker(
        timeout_queue_url=settings.handoff_timeout_queue_url,
        mailer=Mailer(sender=settings.handoff_sender_email),
        channel=Channel(endpoint=settings.realtime_endpoint),
    )
    return dict(
        process_partial_response(
            event=event,
            record_handler=lambda record: worker.handle(record.body),
            processor=processor,
            context=context,
        )
    )
