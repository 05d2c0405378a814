"""SQS consumer of the notifications queue: booking events (EventBridge rule) and reminders
(one-time EventBridge Scheduler schedules). Partial batch failures; a message that keeps
failing ends in the DLQ (a reminder's failure is recorded on its booking first)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from pydantic import Field

from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from scheduling.logic import notices

processor = BatchProcessor(event_type=EventType.SQS)


class NotifierSettings(BaseSettings):
    notification_sender: str = Field(min_length=3)
    notifications_queue_arn: str = Field(min_length=1)
    reminder_role_arn: str = Field(min_length=1)
    reminder_lead_minutes: int = Field(default=1440, ge=1)
    reminder_schedule_prefix: str = Field(min_length=1, max_length=30)
    notifications_max_receives: int = Field(default=3, ge=1)


def _notice_settings(s: NotifierSettings) -> notices.NoticeSettings:
    return notices.NoticeSettings(
        sender=s.notification_sender,
        queue_arn=s.notifications_queue_arn,
        role_arn=s.reminder_role_arn,
        lead=timedelta(minutes=s.reminder_lead_minutes),
        name_prefix=s.reminder_schedule_prefix,
        max_receives=s.notifications_max_receives,
    )


@entry(NotifierSettings)
def handler(event: dict[str, Any], context: Any, settings: NotifierSettings) -> dict[str, Any]:
    noticed = _notice_settings(settings)

    def record_handler(record: Any) -> None:
        count = int(record.attributes.approximate_receive_count or 1)
        outcome = notices.handle(record.body, count, noticed)
        logger().info("notification processed", extra={"outcome": outcome})

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
