"""What the handoff queues carry and what each message does (HandoffWorkerFunction):

- ``HandoffRequested`` (bus -> HandoffRule -> HandoffEventsQueue): a timeout message goes to
  HandoffTimeoutQueue, delayed by what is left of the agent's handoff timeout (a redelivery
  does not restart the clock; SQS delays at most 15 minutes);
- the timeout message: if nobody replied, the handoff times out (the widget asks the visitor
  for an email) and the transcript goes to the team;
- ``LeadCaptured`` on a conversation whose handoff timed out: the transcript again, with the
  visitor's contact details.

Every step is idempotent (conditional writes, the emails' record on the conversation), so a
redelivery repeats nothing a visitor or the team would notice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agenthub.clients import client
from agenthub.observability import logger
from agents.logic import get_agent
from conversations.logic import handoff, transcripts
from conversations.logic.realtime import Channel

SQS_MAX_DELAY = 900


@dataclass(frozen=True)
class HandoffWorker:
    timeout_queue_url: str
    mailer: transcripts.Mailer
    channel: Channel

    def handle(self, body: str) -> None:
        """One message of either queue."""
        message = json.loads(body)
        if message.get("kind") == handoff.TIMEOUT_MESSAGE:
            self._timed_out(message)
            return
        kind, detail = message.get("detail-type"), message.get("detail") or {}
        if kind == "HandoffRequested":
            self._requested(detail)
        elif kind == "LeadCaptured":
            tenant_id, conversation_id = detail["tenant_id"], detail["data"]["conversation_id"]
            transcripts.send_after_timeout(tenant_id, conversation_id, self.mailer)
        else:
            logger().warning("unexpected message on a handoff queue", extra={"kind": kind})

    def _requested(self, detail: dict[str, Any]) -> None:
        data = detail["data"]
        tenant_id, conversation_id = detail["tenant_id"], data["conversation_id"]
        agent = get_agent(tenant_id, data["agent_id"])
        timeout = int(str(agent.handoff.get("timeout_seconds") or 120))
        delay = handoff.seconds_left(data["requested_at"], timeout)
        client("sqs").send_message(
            QueueUrl=self.timeout_queue_url,
            MessageBody=handoff.timeout_message(tenant_id, conversation_id, data["requested_at"]),
            DelaySeconds=min(delay, SQS_MAX_DELAY),
        )

    def _timed_out(self, message: dict[str, Any]) -> None:
        tenant_id, conversation_id = message["tenant_id"], message["conversation_id"]
        timed_out = handoff.time_out(
            tenant_id, conversation_id, message["requested_at"], self.channel
        )
        if timed_out is not None:
            transcripts.send(tenant_id, conversation_id, "timeout", self.mailer)
