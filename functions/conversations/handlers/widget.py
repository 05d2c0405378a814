"""The widget's routes: a publishable key from one of its allowed origins, and on an
existing conversation the visitor token that came with it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from agenthub.events import Actor
from agenthub.http import (
    Caller,
    accepts,
    check_path_ids,
    client_address,
    json_response,
    parse_body,
    public_cors,
    publishable_caller,
)
from conversations.handlers.shared import exchange_view, limits, message_policy, message_view
from conversations.handlers.shared import visitor_tokens as tokens
from conversations.logic import messages, service, visitors
from conversations.logic.service import Access
from conversations.models import (
    Conversation,
    HandoffCreate,
    LeadCreate,
    WidgetAccess,
    WidgetConversationStart,
    WidgetFeedbackCreate,
    WidgetHandoffCreate,
    WidgetLeadCreate,
    WidgetMessageCreate,
)

router = Router()

PUBLIC = "/v1/public/agents/<agentId>/conversations"


def _conversation(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "agent_id": conversation.agent_id,
        "visitor_id": conversation.visitor_id,
        "verified": conversation.verified,
        "started_at": conversation.started_at,
        "message_count": conversation.message_count,
        "handoff": conversation.handoff,
    }


def _widget(agent_id: str, ids: dict[str, str]) -> Caller:
    who = publishable_caller(router, agent_id)
    check_path_ids(ids)
    return who


def _access(who: Caller, agent_id: str, token: str | None) -> Access:
    if not token:
        raise visitors.InvalidVisitor("this call needs the conversation's visitor_token")
    return _as(who, agent_id, tokens().verify(token, who.tenant_id, agent_id).id)


def _as(who: Caller, agent_id: str, visitor_id: str) -> Access:
    actor = Actor(**who.actor)
    return Access(who.tenant_id, agent_id, actor, visitor_id, client_address(router), who.key_id)


def _fields(body: WidgetAccess, model: type[BaseModel]) -> dict[str, Any]:
    return body.model_dump(include=set(model.model_fields))


@router.post(PUBLIC, summary="Start a conversation (widget)", tags=["widget"])
@accepts(WidgetConversationStart)
def start_widget_conversation(agentId: str):
    who = _widget(agentId, {})
    body = parse_body(router, WidgetConversationStart, required=False)
    signed = (body.visitor.id, body.visitor.signature) if body.visitor else None
    visitor = visitors.widget_visitor(
        who.tenant_id, agentId, tokens(), signed=signed, token=body.visitor_token
    )
    conversation = service.start_conversation(
        _as(who, agentId, visitor.id), visitor, "widget", limits()
    )
    data = {
        "conversation": _conversation(conversation),
        "visitor_token": tokens().issue(who.tenant_id, agentId, visitor),
    }
    return json_response(router, data, status=201, headers=public_cors(router))


@router.get(f"{PUBLIC}/<conversationId>", summary="A conversation (widget)", tags=["widget"])
def get_widget_conversation(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    token = router.current_event.get_query_string_value("visitor_token")
    conversation, found = service.get_conversation(_access(who, agentId, token), conversationId)
    data = {
        "conversation": _conversation(conversation),
        "messages": [message_view(m, public=True) for m in found],
    }
    return json_response(router, data, headers=public_cors(router))


@router.post(
    f"{PUBLIC}/<conversationId>/messages", summary="Ask the agent (widget)", tags=["widget"]
)
@accepts(WidgetMessageCreate)
def post_widget_message(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(router, WidgetMessageCreate)
    access = _access(who, agentId, body.visitor_token)
    exchange = messages.post_message(access, conversationId, body.text, message_policy())
    data = exchange_view(exchange, public=True, tenant_id=who.tenant_id, agent_id=agentId)
    return json_response(router, data, status=201, headers=public_cors(router))


@router.post(
    f"{PUBLIC}/<conversationId>/messages/<messageId>/feedback",
    summary="Rate an answer (widget)",
    tags=["widget"],
)
@accepts(WidgetFeedbackCreate)
def post_widget_feedback(agentId: str, conversationId: str, messageId: str):
    who = _widget(agentId, {"conversationId": conversationId, "messageId": messageId})
    body = parse_body(router, WidgetFeedbackCreate)
    access = _access(who, agentId, body.visitor_token)
    feedback = service.give_feedback(access, conversationId, messageId, body)
    return json_response(router, feedback.model_dump(mode="json"), headers=public_cors(router))


@router.post(
    f"{PUBLIC}/<conversationId>/lead", summary="Leave contact details (widget)", tags=["widget"]
)
@accepts(WidgetLeadCreate)
def post_widget_lead(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(router, WidgetLeadCreate)
    access = _access(who, agentId, body.visitor_token)
    lead = service.capture_lead(access, conversationId, LeadCreate(**_fields(body, LeadCreate)))
    data = {"lead": lead.model_dump(mode="json")}
    return json_response(router, data, status=201, headers=public_cors(router))


@router.post(
    f"{PUBLIC}/<conversationId>/handoff", summary="Ask for a human (widget)", tags=["widget"]
)
@accepts(WidgetHandoffCreate)
def post_widget_handoff(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(router, WidgetHandoffCreate)
    access = _access(who, agentId, body.visitor_token)
    handoff = HandoffCreate(**_fields(body, HandoffCreate))
    conversation, _ = service.request_handoff(access, conversationId, handoff)
    data = {"conversation": _conversation(conversation)}
    return json_response(router, data, headers=public_cors(router))
