"""SQS consumer of the live handoff (HandoffWorkerFunction), two queues:

- HandoffEventsQueue (bus -> HandoffRule): ``HandoffRequested`` sends a message to
  HandoffTimeoutQueue delayed by the agent's handoff timeout (what is left of it: a redelivery
  does not restart the clock); ``LeadCaptured`` on a conversation whose handoff timed out emails
  the transcript with the visitor's contact details.
- HandoffTimeoutQueue: the handoff's time is up. If nobody replied, it times out (the widget
  asks the visitor for an email) and the transcript goes to the team.

Partial batch failures; every step is idempotent (conditional writes, the emails' record on
the conversation), so redelivery repeats nothing a visitor or the team would notice.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from pydantic import Field

from agenthub.clients import client
from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from agents.logic import get_agent
from conversations.logic import handoff, transcripts
from conversations.logic.realtime import Channel

processor = BatchProcessor(event_type=EventType.SQS)
SQS_MAX_DELAY = 900


class HandoffWorkerSettings(BaseSettings):
    handoff_timeout_queue_url: str = Field(min_length=1)
    handoff_sender_email: str = Field(min_length=3)
    realtime_endpoint: str | None = None


def _requested(detail: dict[str, Any], settings: HandoffWorkerSettings) -> None:
    data = detail["data"]
    tenant_id, conversation_id = detail["tenant_id"], data["conversation_id"]
    agent = get_agent(tenant_id, data["agent_id"])
    timeout = int(agent.handoff.get("timeout_seconds") or 120)
    delay = handoff.seconds_left(data["requested_at"], timeout)
    client("sqs").send_message(
        QueueUrl=settings.handoff_timeout_queue_url,
        MessageBody=handoff.timeout_message(tenant_id, conversation_id, data["requested_at"]),
        DelaySeconds=min(delay, SQS_MAX_DELAY),
    )


def _timed_out(message: dict[str, Any], settings: HandoffWorkerSettings) -> None:
    tenant_id, conversation_id = message["tenant_id"], message["conversation_id"]
    conversation = handoff.time_out(
        tenant_id,
        conversation_id,
        message["requested_at"],
        Channel(endpoint=settings.realtime_endpoint),
    )
    if conversation is not None:
        mailer = transcripts.Mailer(sender=settings.handoff_sender_email)
        transcripts.send(tenant_id, conversation_id, "timeout", mailer)


def _lead(detail: dict[str, Any], settings: HandoffWorkerSettings) -> None:
    tenant_id, conversation_id = detail["tenant_id"], detail["data"]["conversation_id"]
    mailer = transcripts.Mailer(sender=settings.handoff_sender_email)
    transcripts.send_after_timeout(tenant_id, conversation_id, mailer)


@entry(HandoffWorkerSettings)
def handler(event: dict[str, Any], context: Any, settings: HandoffWorkerSettings) -> dict[str, Any]:
    def record_handler(record: Any) -> None:
        body = json.loads(record.body)
        if body.get("kind") == handoff.TIMEOUT_MESSAGE:
            _timed_out(body, settings)
            return
        kind, detail = body.get("detail-type"), body.get("detail") or {}
        if kind == "HandoffRequested":
            _requested(detail, settings)
        elif kind == "LeadCaptured":
            _lead(detail, settings)
        else:
            logger().warning("unexpected message on a handoff queue", extra={"kind": kind})

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
