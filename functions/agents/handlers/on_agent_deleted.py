"""SQS consumer of AgentDeleted (bus → AgentCleanupRule → AgentCleanupQueue): removes what a
deleted agent leaves behind (agents.logic.cleanup). Partial batch failures; idempotent."""

from __future__ import annotations

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
from agents.logic import cleanup

processor = BatchProcessor(event_type=EventType.SQS)


class CleanupSettings(BaseSettings):
    documents_bucket: str = Field(min_length=3)


@entry(CleanupSettings)
def handler(event: dict[str, Any], context: Any, settings: CleanupSettings) -> dict[str, Any]:
    def record_handler(record: Any) -> None:
        tenant_id, agent_id = cleanup.deleted_agent(record.body)
        removed = cleanup.forget_agent(tenant_id, agent_id, settings.documents_bucket)
        logger().info(
            "deleted agent's data removed",
            extra={"tenant_id": tenant_id, "agent_id": agent_id, **removed.__dict__},
        )

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
