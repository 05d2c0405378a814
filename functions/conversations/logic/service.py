"""Conversations behaviour around the answer: sessions, reading and listing conversations,
feedback, lead capture and handoff. Posting a message is in ``messages``.

Every call names an ``Access``: the tenant and agent of the route, and the visitor when the
caller is the widget. A conversation of another tenant, another agent or (for the widget)
another visitor is a plain 404, like one that never existed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from agenthub.errors import Conflict, NotFound
from agenthub.events import Actor, utc_now_iso
from agents.logic import get_agent
from conversations.dal import repository
from conversations.logic.notes import note
from conversations.logic.visitors import Visitor
from conversations.models import (
    Conversation,
    ConversationFilters,
    ConversationStarted,
    Feedback,
    FeedbackCreate,
    FeedbackReceived,
    Lead,
    LeadCaptured,
    LeadCreate,
    Message,
)


@dataclass(frozen=True)
class Access:
    """Who asks about which agent's conversations. ``visitor_id`` is set for the widget
    (only its own conversations), None for secret keys (any of the tenant's)."""

    tenant_id: str
    agent_id: str
    actor: Actor
    visitor_id: str | None = None


class NotAnAnswer(Conflict):
    code = "not_an_answer"


def new_conversation_id() -> str:
    return "cv_" + secrets.token_hex(12)


def owned(conversation: Conversation | None, access: Access) -> Conversation:
    """The conversation if the caller may see it, else NotFound (never a 403: a visitor
    must not learn that another visitor's conversation exists)."""
    if (
        conversation is None
        or conversation.agent_id != access.agent_id
        or (access.visitor_id is not None and conversation.visitor_id != access.visitor_id)
    ):
        raise NotFound("conversation not found")
    return conversation


def start_conversation(access: Access, visitor: Visitor, channel: str) -> Conversation:
    """A new conversation of ``visitor`` with the agent (which must exist), and its
    ConversationStarted event, in one write."""
    get_agent(access.tenant_id, access.agent_id)  # NotFound for another tenant's agent
    conversation = Conversation(
        id=new_conversation_id(),
        tenant_id=access.tenant_id,
        agent_id=access.agent_id,
        visitor_id=visitor.id,
        verified=visitor.verified,
        channel=channel,
        started_at=utc_now_iso(),
    )
    event = ConversationStarted(
        tenant_id=access.tenant_id,
        actor=access.actor,
        subject=f"conversation/{conversation.id}",
        data={
            "agent_id": access.agent_id,
            "conversation_id": conversation.id,
            "channel": channel,
            "verified": visitor.verified,
        },
    )
    repository.start(conversation, [event])
    return conversation


def get_conversation(
    access: Access, conversation_id: str, *, after: str | None = None
) -> tuple[Conversation, list[Message]]:
    """The conversation and its messages, oldest first (only those newer than message
    ``after`` when given)."""
    if after is None:
        conversation, messages = repository.get_with_messages(access.tenant_id, conversation_id)
        return owned(conversation, access), messages
    conversation = owned(repository.get_conversation(access.tenant_id, conversation_id), access)
    return conversation, repository.messages_after(access.tenant_id, conversation_id, after)


def list_conversations(
    tenant_id: str, filters: ConversationFilters, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Conversation], dict[str, Any] | None]:
    """A tenant's conversations, newest first, filtered server-side (honest paging)."""
    return repository.list_page(tenant_id, filters, limit, start_key)


def give_feedback(
    access: Access, conversation_id: str, message_id: str, data: FeedbackCreate
) -> Feedback:
    """Rate an answer. An unknown message is a 404; a visitor's own message (or a question
    that failed) is not an answer: 409."""
    reads = repository.read_turn(access.tenant_id, conversation_id, message_id=message_id)
    owned(reads.conversation, access)
    if reads.message is None:
        raise NotFound("message not found")
    if reads.message.role != "assistant":
        raise NotAnAnswer("feedback is for the agent's answers, not the visitor's messages")
    feedback = Feedback(rating=data.rating, comment=data.comment or None, given_at=utc_now_iso())
    event = FeedbackReceived(
        tenant_id=access.tenant_id,
        actor=access.actor,
        subject=f"conversation/{conversation_id}",
        data={
            "agent_id": access.agent_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "rating": data.rating,
            "has_comment": bool(data.comment),
        },
    )
    repository.set_feedback(access.tenant_id, conversation_id, message_id, feedback, [event])
    return feedback


def capture_lead(access: Access, conversation_id: str, data: LeadCreate) -> tuple[Lead, Message]:
    """Attach the visitor's contact details to the conversation (a later capture replaces
    them), note it in the messages (the widget shows it after a reload) and emit LeadCaptured
    — without the personal data, which stays in the table."""
    conversation = owned(repository.get_conversation(access.tenant_id, conversation_id), access)
    lead = Lead(**data.model_dump(), captured_at=utc_now_iso())
    written = note(conversation, "lead_captured", lead.captured_at, author=lead.name)
    event = LeadCaptured(
        tenant_id=access.tenant_id,
        actor=access.actor,
        subject=f"conversation/{conversation_id}",
        data={
            "agent_id": access.agent_id,
            "conversation_id": conversation_id,
            "has_email": lead.email is not None,
            "has_phone": lead.phone is not None,
        },
    )
    repository.set_lead(access.tenant_id, conversation_id, lead, written, [event])
    return lead, written
