"""Live handoff: a visitor asks for a person, someone of the tenant's team replies through the
API, the agent stays quiet while that person holds the conversation, and a handoff nobody
answers in time asks the visitor for an email and sends the transcript to the team.

    requested --reply--> held --release--> released --(visitor asks again)--> requested
    requested --(nobody within the agent's timeout)--> timed_out --reply--> held
    requested | held | timed_out --release--> released

Each step is one transaction (the header's status, the open-handoffs list, notes and replies in
the message list, the event) conditional on the status it was decided on, then a push to the
visitor's open widget (realtime.Channel). The timeout is a delayed SQS message
(logic/handoff_worker.py), checked against the handoff it was set for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from agenthub.errors import BadRequest, Conflict
from agenthub.events import Actor, utc_now_iso
from conversations.dal import handoffs, repository
from conversations.logic.notes import message_ids, note
from conversations.logic.realtime import Channel
from conversations.logic.service import Access, owned
from conversations.models import (
    Conversation,
    HandoffCreate,
    HandoffFilters,
    HandoffRelease,
    HandoffReleased,
    HandoffReleasedData,
    HandoffRequested,
    HandoffRequestedData,
    HandoffState,
    HandoffStatus,
    HandoffTimedOut,
    HandoffTimedOutData,
    Message,
    OperatorReplied,
    OperatorRepliedData,
    OperatorReplyCreate,
)

TIMEOUT_MESSAGE = "handoff_timeout"


class NoOpenHandoff(Conflict):
    code = "no_open_handoff"


def _with(conversation: Conversation, state: HandoffState) -> Conversation:
    return conversation.model_copy(
        update={"handoff_state": state, "handoff_requested_at": state.requested_at}
    )


def _status(conversation: Conversation) -> HandoffStatus | None:
    return conversation.handoff_state.status if conversation.handoff_state else None


def request_handoff(
    access: Access, conversation_id: str, data: HandoffCreate, channel: Channel
) -> tuple[Conversation, Message | None]:
    """Ask for a person. Idempotent while a handoff is open (the note is None then: nothing
    new was written)."""
    conversation = owned(repository.get_conversation(access.tenant_id, conversation_id), access)
    state = conversation.handoff_state
    if state is not None and state.open:
        return conversation, None
    now = utc_now_iso()
    written = note(conversation, "handoff_requested", now)
    event = HandoffRequested(
        tenant_id=access.tenant_id,
        actor=access.actor,
        subject=f"conversation/{conversation_id}",
        data=HandoffRequestedData(
            agent_id=access.agent_id,
            conversation_id=conversation_id,
            requested_at=now,
            visitor_verified=conversation.verified,
            has_lead=conversation.has_lead,
            has_reason=bool(data.reason),
        ),
    )
    handoffs.change(
        conversation,
        expected=_status(conversation),
        status="requested",
        changed_at=now,
        requested_at=now,
        operator=None,
        messages=[written],
        events=[event],
        reason=data.reason,
    )
    updated = _with(
        conversation.model_copy(update={"handoff_reason": data.reason}),
        HandoffState(status="requested", requested_at=now, changed_at=now),
    )
    channel.push(updated, [written])
    return updated, written


def reply(
    access: Access, conversation_id: str, data: OperatorReplyCreate, channel: Channel
) -> tuple[Conversation, list[Message]]:
    """A person writes to the visitor. The first reply (or one from another person) takes the
    conversation over: the agent stops answering until it is released. Returns the
    conversation and what was added (a "joined" note, then the reply)."""
    conversation = owned(repository.get_conversation(access.tenant_id, conversation_id), access)
    state = conversation.handoff_state
    now = utc_now_iso()
    author = data.author
    joins = state is None or state.status != "held" or (author or None) != state.operator
    note_id, reply_id = message_ids(2)
    message = Message(
        id=reply_id,
        conversation_id=conversation_id,
        role="operator",
        author=author,
        text=data.text,
        created_at=now,
    )
    event = OperatorReplied(
        tenant_id=access.tenant_id,
        actor=access.actor,
        subject=f"conversation/{conversation_id}",
        data=OperatorRepliedData(
            agent_id=access.agent_id,
            conversation_id=conversation_id,
            message_id=reply_id,
            joined=joins,
        ),
    )
    if not joins:
        assert state is not None
        handoffs.add_message(conversation, message, status="held", events=[event])
        channel.push(conversation, [message])
        return conversation, [message]
    requested_at = state.requested_at if state else now
    joined = note(conversation, "operator_joined", now, author=author, message_id=note_id)
    handoffs.change(
        conversation,
        expected=_status(conversation),
        status="held",
        changed_at=now,
        requested_at=requested_at,
        operator=author,
        messages=[joined, message],
        events=[event],
    )
    updated = _with(
        conversation,
        HandoffState(
            status="held",
            requested_at=requested_at,
            changed_at=now,
            operator=author,
            emailed=state.emailed if state else [],
        ),
    )
    channel.push(updated, [joined, message])
    return updated, [joined, message]


def release(
    access: Access, conversation_id: str, data: HandoffRelease, channel: Channel
) -> tuple[Conversation, Message]:
    """Hand the conversation back to the agent (closes the handoff, whatever its state)."""
    conversation = owned(repository.get_conversation(access.tenant_id, conversation_id), access)
    state = conversation.handoff_state
    if state is None or not state.open:
        raise NoOpenHandoff("this conversation has no open handoff to release")
    now = utc_now_iso()
    author = data.author or state.operator
    written = note(conversation, "handoff_released", now, author=author)
    event = HandoffReleased(
        tenant_id=access.tenant_id,
        actor=access.actor,
        subject=f"conversation/{conversation_id}",
        data=HandoffReleasedData(
            agent_id=access.agent_id, conversation_id=conversation_id, was=state.status
        ),
    )
    handoffs.change(
        conversation,
        expected=state.status,
        status="released",
        changed_at=now,
        requested_at=state.requested_at,
        operator=author,
        messages=[written],
        events=[event],
    )
    updated = _with(
        conversation,
        state.model_copy(update={"status": "released", "changed_at": now, "operator": author}),
    )
    channel.push(updated, [written])
    return updated, written


def time_out(
    tenant_id: str, conversation_id: str, requested_at: str, channel: Channel
) -> Conversation | None:
    """The timeout of the handoff requested at ``requested_at``: if nobody has replied, the
    handoff is timed out (the widget asks the visitor for an email). Returns the conversation
    when its handoff is (now or already) timed out for that request, else None (answered,
    released, or a later handoff)."""
    conversation = repository.get_conversation(tenant_id, conversation_id)
    state = conversation.handoff_state if conversation else None
    if conversation is None or state is None or state.requested_at != requested_at:
        return None
    if state.status == "timed_out":
        return conversation  # a redelivery: the transcript may still be due
    if state.status != "requested":
        return None
    now = utc_now_iso()
    written = note(conversation, "handoff_timed_out", now)
    event = HandoffTimedOut(
        tenant_id=tenant_id,
        actor=Actor(kind="system"),
        subject=f"conversation/{conversation_id}",
        data=HandoffTimedOutData(
            agent_id=conversation.agent_id,
            conversation_id=conversation_id,
            requested_at=requested_at,
        ),
    )
    try:
        handoffs.change(
            conversation,
            expected="requested",
            status="timed_out",
            changed_at=now,
            requested_at=requested_at,
            operator=None,
            messages=[written],
            events=[event],
        )
    except handoffs.HandoffChanged:
        return None  # someone replied (or released it) at that very moment
    updated = _with(
        conversation, state.model_copy(update={"status": "timed_out", "changed_at": now})
    )
    channel.push(updated, [written])
    return updated


def filters_from_query(query: Mapping[str, str]) -> HandoffFilters:
    """The open handoffs' filter (``agent_id``) from the query string."""
    try:
        return HandoffFilters(agent_id=query.get("agent_id"))
    except ValidationError:
        raise BadRequest("'agent_id' is not an agent id") from None


def list_open(
    tenant_id: str, agent_id: str | None, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[handoffs.OpenHandoff], dict[str, Any] | None]:
    """The tenant's open handoffs (requested, held, timed out), oldest request first, and
    where the next page starts."""
    return handoffs.list_open(tenant_id, agent_id, limit, start_key)


# ---------------------------------------------------------------------------- the timeout


def timeout_message(tenant_id: str, conversation_id: str, requested_at: str) -> str:
    """The delayed SQS message that times a handoff out."""
    return json.dumps(
        {
            "kind": TIMEOUT_MESSAGE,
            "tenant_id": tenant_id,
            "conversation_id": conversation_id,
            "requested_at": requested_at,
        }
    )


def seconds_left(requested_at: str, timeout_seconds: int, now: datetime | None = None) -> int:
    """How long the timeout of a handoff requested at ``requested_at`` still has (0: due)."""
    asked = datetime.fromisoformat(requested_at.replace("Z", "+00:00"))
    elapsed = ((now or datetime.now(UTC)) - asked).total_seconds()
    return max(0, int(timeout_seconds - elapsed + 0.999))
