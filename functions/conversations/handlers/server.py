"""The server's routes: secret keys, any of the tenant's conversations, the list with its
filters, and the agent's visitor-identity secret."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from agenthub.events import Actor
from agenthub.http import ALL_ROLES, MANAGERS, WRITERS, Caller, endpoint, json_response, paginated
from conversations.handlers.shared import (
    exchange_view,
    message_policy,
    message_view,
    visitor_tokens,
)
from conversations.logic import messages, service, visitors
from conversations.logic.service import Access
from conversations.models import (
    Conversation,
    FeedbackCreate,
    HandoffCreate,
    LeadCreate,
    MessageCreate,
    ServerConversationStart,
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
@endpoint(router, roles=ALL_ROLES)
def get_conversation(who: Caller, agentId: str, conversationId: str):
    conversation, found = service.get_conversation(_access(who, agentId), conversationId)
    data = {
        "conversation": _conversation_view(conversation),
        "messages": [message_view(m, public=False) for m in found],
    }
    return json_response(router, data, conditional=True)


@router.post(
    f"{SERVER}/<conversationId>/messages", summary="Ask the agent (server)", tags=["conversations"]
)
@endpoint(router, roles=WRITERS, body=MessageCreate)
def post_message(who: Caller, body: MessageCreate, agentId: str, conversationId: str):
    exchange = messages.post_message(
        _access(who, agentId), conversationId, body.text, message_policy()
    )
    data = exchange_view(exchange, public=False, tenant_id=who.tenant_id, agent_id=agentId)
    return json_response(router, data, status=201)


@router.post(
    f"{SERVER}/<conversationId>/messages/<messageId>/feedback",
    summary="Rate an answer",
    tags=["conversations"],
)
@endpoint(router, roles=WRITERS, body=FeedbackCreate)
def post_feedback(
    who: Caller, body: FeedbackCreate, agentId: str, conversationId: str, messageId: str
):
    feedback = service.give_feedback(_access(who, agentId), conversationId, messageId, body)
    return json_response(router, feedback.model_dump(mode="json"))


@router.post(f"{SERVER}/<conversationId>/lead", summary="Capture a lead", tags=["conversations"])
@endpoint(router, roles=WRITERS, body=LeadCreate)
def post_lead(who: Caller, body: LeadCreate, agentId: str, conversationId: str):
    lead = service.capture_lead(_access(who, agentId), conversationId, body)
    return json_response(router, {"lead": lead.model_dump(mode="json")}, status=201)


@router.post(
    f"{SERVER}/<conversationId>/handoff", summary="Hand off to a human", tags=["conversations"]
)
@endpoint(router, roles=WRITERS, body=HandoffCreate)
def post_handoff(who: Caller, body: HandoffCreate, agentId: str, conversationId: str):
    conversation, _ = service.request_handoff(_access(who, agentId), conversationId, body)
    return json_response(router, {"conversation": _conversation_view(conversation)})


@router.get(
    "/v1/conversations", summary="List conversations (filters, cursor)", tags=["conversations"]
)
@endpoint(router, roles=ALL_ROLES)
def list_conversations(who: Caller):
    filters = service.filters_from_query(router.current_event.query_string_parameters or {})
    load = partial(service.list_conversations, who.tenant_id, filters)
    return paginated(
        router, who, load, view=_conversation_view, fields=CONVERSATION_FIELDS, query=filters
    )


@router.post(
    "/v1/agents/<agentId>/identity-secret",
    summary="Rotate the agent's visitor-identity secret (shown once)",
    tags=["conversations"],
)
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
