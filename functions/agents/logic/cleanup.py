"""What a deleted agent leaves behind, removed after the fact: AgentDeleted (bus → rule →
queue) reaches this consumer, which revokes the agent's publishable keys and removes its
documents (items and objects) and its conversations (messages, leads, feedback).

Writes for a deleted agent are already refused at once (a condition on the agent in each
write), so this may run later and run again: every step is idempotent, and a failure half way
returns the message to the queue to redo what is left (after maxReceiveCount, the DLQ and its
alarm).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from agenthub.events import Actor
from conversations.logic import forget_agent as forget_conversations
from identity.logic import revoke_agent_keys
from knowledge.logic import forget_agent as forget_knowledge

CLEANUP = Actor(kind="system")


class NotAnAgentDeletion(ValueError):
    """A message this consumer can never act on: it fails each time and ends in the DLQ."""


@dataclass(frozen=True)
class Removed:
    keys_revoked: int
    objects: int
    conversations: int


def deleted_agent(body: str) -> tuple[str, str]:
    """(tenant id, agent id) of the AgentDeleted event an SQS message carries."""
    try:
        event = json.loads(body)
        detail = event["detail"]
        kind, agent_id = detail["subject"].split("/", 1)
        tenant_id = detail["tenant_id"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise NotAnAgentDeletion("message is not an AgentDeleted event") from None
    if event.get("detail-type") != "AgentDeleted" or kind != "agent" or not agent_id:
        raise NotAnAgentDeletion("message is not an AgentDeleted event")
    return tenant_id, agent_id


def forget_agent(tenant_id: str, agent_id: str, documents_bucket: str) -> Removed:
    """Revoke the agent's keys first (nobody may call for it), then remove its data."""
    revoked = revoke_agent_keys(tenant_id, agent_id, CLEANUP)
    objects = forget_knowledge(tenant_id, agent_id, documents_bucket)
    conversations = forget_conversations(tenant_id, agent_id)
    return Removed(revoked, objects, conversations)
