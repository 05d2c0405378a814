"""The server's routes: secret keys, any of the tenant's conversations, the list with its
filters, and the agent's visitor-identity secret."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from agenthub.events import Actor
from agenthub.http import (
    ALL_ROLES,
    MANAGERS,
    WRITERS,
    Caller,
    answers,
    endpoint,
    json_response,
    paginated,
)
from conversations.handlers.shared import (
    channel,
    exchange_view,
    message_policy,
    message_view,
    visitor_tokens,
)
from conversations.logic import handoff, messages, service, visitors
from conversations.logic.service import Access
from conversations.models import (
    CapturedLead,
    Conversation,
    ConversationHandoff,
    ConversationMessages,
    ConversationView,
    Feedback,
    FeedbackCreate,
    HandoffCreate,
    HandoffRelease,
    IdentitySecretShown,
    LeadCreate,
    MessageCreate,
    OpenHandoff,
    OperatorReplyCreate,
    ReleasedHandoff,
    ServerConversationStart,
    StartedConversation,
)

router = Router()

SERVER = "/v1/agents/<agentId>/conversations"
CONVERSATION_FIELDS = (
    "id",
    "agent_id",
    "visitor_id",
    "verified",
    "channel",
    "started_at",
    "unanswered",
    "has_lead",
    "lead",
    "handoff",
    "handoff_requested_at",
    "handoff_reason",
    "handoff_state",
    "message_count",
    "last_message_at",
)


def _conversation_view(conversation: Conversation) -> dict[str, Any]:
    data = conversation.model_dump(mode="json", exclude={"tenant_id", "history", "state_version"})
    data["has_lead"] = conversation.has_lead
    data["handoff"] = conversation.handoff
    return data


def _access(who: Caller, agent_id: str) -> Access:
    return Access(who.tenant_id, agent_id, Actor(**who.actor))


@router.post(SERVER, summary="Start a conversation (server)", tags=["conversations"])
@answers(StartedConversation, status=201)
@endpoint(router, roles=WRITERS, body=ServerConversationStart)
def start_conversation(who: Caller, body: ServerConversationStart, agentId: str):
    visitor = visitors.server_named(body.visitor_id)
    conversation = service.start_conversation(_access(who, agentId), visitor, "api")
    data = {
        "conversation": _conversation_view(conversation),
        "visitor_token": visitor_tokens().issue(who.tenant_id, agentId, visitor),
    }
    return json_response(router, data, status=201)


@router.get(
    f"{SERVER}/<conversationId>", summary="A conversation and its messages", tags=["conversations"]
)
@answers(ConversationMessages)
@endpoint(router, roles=ALL_ROLES)
def get_conversation(who: Caller, agentId: str, conversationId: str):
    after = service.after_from_query(router.current_event.query_string_parameters or {})
    access = _access(who, agentId)
    conversation, found = service.get_conversation(access, conversationId, after=after)
    data = {
        "conversation": _conversation_view(conversation),
        "messages": [message_view(m, public=False) for m in found],
    }
    return json_response(router, data, conditional=True)


@router.post(
    f"{SERVER}/<conversationId>/messages", summary="Ask the agent (server)", tags=["conversations"]
)
@answers(status=201)
@endpoint(router, roles=WRITERS, body=MessageCreate)
def post_message(who: Caller, body: MessageCreate, agentId: str, conversationId: str):
    exchange = messages.post_message(
        _access(who, agentId), conversationId, body.text, message_policy(), body.context
    )
    data = exchange_view(exchange, public=False, tenant_id=who.tenant_id, agent_id=agentId)
    return json_response(router, data, status=201)


@router.post(
    f"{SERVER}/<conversationId>/messages/<messageId>/feedback",
    summary="Rate an answer",
    tags=["conversations"],
)
@answers(Feedback)
@endpoint(router, roles=WRITERS, body=FeedbackCreate)
def post_feedback(
    who: Caller, body: FeedbackCreate, agentId: str, conversationId: str, messageId: str
):
    feedback = service.give_feedback(_access(who, agentId), conversationId, messageId, body)
    return json_response(router, feedback.model_dump(mode="json"))


@router.post(f"{SERVER}/<conversationId>/lead", summary="Capture a lead", tags=["conversations"])
@answers(CapturedLead, status=201)
@endpoint(router, roles=WRITERS, body=LeadCreate)
def post_lead(who: Caller, body: LeadCreate, agentId: str, conversationId: str):
    lead, _ = service.capture_lead(_access(who, agentId), conversationId, body)
    return json_response(router, {"lead": lead.model_dump(mode="json")}, status=201)


@router.post(
    f"{SERVER}/<conversationId>/handoff", summary="Hand off to a human", tags=["conversations"]
)
@answers(ConversationHandoff)
@endpoint(router, roles=WRITERS, body=HandoffCreate)
def post_handoff(who: Caller, body: HandoffCreate, agentId: str, conversationId: str):
    conversation, _ = handoff.request_handoff(
        _access(who, agentId), conversationId, body, channel()
    )
    return json_response(router, {"conversation": _conversation_view(conversation)})


@router.post(
    f"{SERVER}/<conversationId>/replies",
    summary="Reply to the visitor as a person (takes the conversation over)",
    tags=["handoff"],
)
@answers(ConversationMessages, status=201)
@endpoint(router, roles=WRITERS, body=OperatorReplyCreate)
def post_reply(who: Caller, body: OperatorReplyCreate, agentId: str, conversationId: str):
    conversation, added = handoff.reply(_access(who, agentId), conversationId, body, channel())
    data = {
        "conversation": _conversation_view(conversation),
        "messages": [message_view(m, public=False) for m in added],
    }
    return json_response(router, data, status=201)


@router.post(
    f"{SERVER}/<conversationId>/handoff/release",
    summary="Hand the conversation back to the agent",
    tags=["handoff"],
)
@answers(ReleasedHandoff)
@endpoint(router, roles=WRITERS, body=HandoffRelease)
def release_handoff(who: Caller, body: HandoffRelease, agentId: str, conversationId: str):
    conversation, written = handoff.release(_access(who, agentId), conversationId, body, channel())
    data = {
        "conversation": _conversation_view(conversation),
        "message": message_view(written, public=False),
    }
    return json_response(router, data)


@router.get(
    "/v1/conversations", summary="List conversations (filters, cursor)", tags=["conversations"]
)
@answers(ConversationView, page=True, partial=True)
@endpoint(router, roles=ALL_ROLES)
def list_conversations(who: Caller):
    filters = service.filters_from_query(router.current_event.query_string_parameters or {})
    load = partial(service.list_conversations, who.tenant_id, filters)
    return paginated(
        router, who, load, view=_conversation_view, fields=CONVERSATION_FIELDS, query=filters
    )


@router.get("/v1/handoffs", summary="Open handoffs, oldest first", tags=["handoff"])
@answers(OpenHandoff, page=True)
@endpoint(router, roles=ALL_ROLES)
def list_handoffs(who: Caller):
    filters = handoff.filters_from_query(router.current_event.query_string_parameters or {})
    load = partial(handoff.list_open, who.tenant_id, filters.agent_id)
    return paginated(router, who, load, view=OpenHandoff.model_dump, query=filters)


@router.post(
    "/v1/agents/<agentId>/identity-secret",
    summary="Rotate the agent's visitor-identity secret (shown once)",
    tags=["conversations"],
)
@answers(IdentitySecretShown, status=201)
@endpoint(router, roles=MANAGERS)
def rotate_identity_secret(who: Caller, agentId: str):
    rotated = visitors.rotate_identity_secret(who.tenant_id, agentId, Actor(**who.actor))
    data = {
        "agent_id": agentId,
        "secret": rotated.secret,
        "algorithm": "HMAC-SHA256",
        "created_at": rotated.created_at,
        "previous_valid_until": rotated.previous_valid_until,
    }
    return json_response(router, data, status=201)
