"""Conversations behaviour around the answer: sessions, reading and listing conversations,
feedback, lead capture and handoff. Posting a message is in ``messages``.

Every call names an ``Access``: the tenant and agent of the route, and the visitor when the
caller is the widget. A conversation of another tenant, another agent or (for the widget)
another visitor is a plain 404, like one that never existed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from pydantic import ValidationError

from agenthub.errors import BadRequest, Conflict, NotFound
from agenthub.events import Actor, utc_now_iso
from agenthub.outbox import Required
from agents.logic import agent_still_exists, get_agent
from conversations.dal import repository
from conversations.logic import rate_limits
from conversations.logic.notes import note
from conversations.logic.visitors import Visitor
from conversations.models import (
    Channel,
    Conversation,
    ConversationFilters,
    ConversationStarted,
    ConversationStartedData,
    Feedback,
    FeedbackCreate,
    FeedbackReceived,
    FeedbackReceivedData,
    Lead,
    LeadCaptured,
    LeadCapturedData,
    LeadCreate,
    Message,
)

MESSAGE_ID = re.compile(r"^msg_[0-9a-f]{22}$")


@dataclass(frozen=True)
class Access:
    """Who asks about which agent's conversations. ``visitor_id`` is set for the widget
    (only its own conversations), None for secret keys (any of the tenant's)."""

    tenant_id: str
    agent_id: str
    actor: Actor
    visitor_id: str | None = None
    # The widget's caller as the rate limits count it (None for a tenant's server).
    client_address: str | None = None
    publishable_key_id: str | None = None

    def counted_as(self, visitor_id: str | None) -> rate_limits.Caller:
        """Who this access is for the rate limits, as ``visitor_id``."""
        return rate_limits.Caller(visitor_id, self.client_address, self.publishable_key_id)


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


def alive(access: Access) -> list[Required]:
    """What a write of ``access`` requires: its agent, at the moment of the write (a
    deletion is seen at once, whatever the agent cache of this environment holds)."""
    return [agent_still_exists(access.tenant_id, access.agent_id)]


def start_conversation(
    access: Access, visitor: Visitor, channel: Channel, limits: rate_limits.Limits | None = None
) -> Conversation:
    """A new conversation of ``visitor`` with the agent (which must exist), and its
    ConversationStarted event, in one write; counted (with ``limits``) per client address
    and publishable key: a used-up window is a TooManyRequests (429, Retry-After)."""
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
        data=ConversationStartedData(
            agent_id=access.agent_id,
            conversation_id=conversation.id,
            channel=channel,
            verified=visitor.verified,
        ),
    )
    now = rate_limits.now()
    counters = (
        rate_limits.start_counters(
            access.tenant_id, access.agent_id, access.counted_as(visitor.id), limits, now
        )
        if limits is not None
        else []
    )
    try:
        repository.start(conversation, [event], requires=alive(access), counters=counters)
    except repository.CounterFull as exc:
        assert limits is not None
        raise rate_limits.refused(exc.counter, limits, now) from None
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


def after_from_query(query: Mapping[str, str]) -> str | None:
    """``?after=<message id>``: only the messages newer than that one (a widget catching up);
    anything else is a BadRequest."""
    after = query.get("after")
    if after is not None and not MESSAGE_ID.match(after):
        raise BadRequest("'after' must be a message id (msg_...)")
    return after


def filters_from_query(query: Mapping[str, str]) -> ConversationFilters:
    """The list's filters from its query string (``agent_id``, ``from``/``to`` as ISO-8601
    dates or date-times, and the flags); a malformed value is a BadRequest naming it."""
    started_from = _instant(query, "from", end_of_day=False)
    started_to = _instant(query, "to", end_of_day=True)
    if started_from and started_to and started_from > started_to:
        raise BadRequest("'from' must not be after 'to'")
    try:
        return ConversationFilters(
            agent_id=query.get("agent_id"),
            started_from=started_from,
            started_to=started_to,
            unanswered=_flag(query, "unanswered"),
            has_lead=_flag(query, "has_lead"),
            handoff=_flag(query, "handoff"),
        )
    except ValidationError:
        raise BadRequest("'agent_id' is not an agent id") from None


def _flag(query: Mapping[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise BadRequest(f"'{name}' must be true or false")
    return value == "true"


def _instant(query: Mapping[str, str], name: str, *, end_of_day: bool) -> str | None:
    """An ISO-8601 date or date-time, as the UTC text the index sorts by."""
    raw = query.get(name)
    if raw is None:
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            moment = datetime.combine(day, time.max if end_of_day else time.min, UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"'{name}' must be an ISO-8601 date or date-time") from None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def list_conversations(
    tenant_id: str, filters: ConversationFilters, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Conversation], dict[str, Any] | None]:
    """A tenant's conversations, newest first, filtered server-side (honest paging)."""
    return repository.list_page(tenant_id, filters, limit, start_key)


def question_text(tenant_id: str, conversation_id: str, question_id: str) -> str | None:
    """The text of a visitor's question (one GetItem), or None when it is gone. For the
    analytics consumer, which files each answered question under its agent's day."""
    message = repository.get_message(tenant_id, conversation_id, question_id)
    return message.text if message is not None and message.role == "user" else None


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
        data=FeedbackReceivedData(
            agent_id=access.agent_id,
            conversation_id=conversation_id,
            message_id=message_id,
            rating=data.rating,
            has_comment=bool(data.comment),
        ),
    )
    repository.set_feedback(
        access.tenant_id, conversation_id, message_id, feedback, [event], requires=alive(access)
    )
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
        data=LeadCapturedData(
            agent_id=access.agent_id,
            conversation_id=conversation_id,
            has_email=lead.email is not None,
            has_phone=lead.phone is not None,
        ),
    )
    repository.set_lead(
        access.tenant_id, conversation_id, lead, written, [event], requires=alive(access)
    )
    return lead, written


def forget_agent(tenant_id: str, agent_id: str) -> int:
    """Remove every conversation (messages, leads, feedback) of a deleted agent and its
    identity secret; the number of conversations removed. Idempotent. Rate counters and
    cached answers expire by TTL within the hour."""
    return repository.delete_agent_conversations(tenant_id, agent_id)
