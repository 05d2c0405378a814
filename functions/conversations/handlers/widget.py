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
    answers,
    check_path_ids,
    client_address,
    json_response,
    parse_body,
    public_cors,
    publishable_caller,
)
from conversations.handlers.shared import (
    channel,
    exchange_view,
    limits,
    message_policy,
    message_view,
)
from conversations.handlers.shared import visitor_tokens as tokens
from conversations.logic import handoff, messages, service, visitors
from conversations.logic.service import Access
from conversations.models import (
    Conversation,
    Feedback,
    HandoffCreate,
    LeadCreate,
    WidgetAccess,
    WidgetConversationMessages,
    WidgetConversationStart,
    WidgetFeedbackCreate,
    WidgetHandoff,
    WidgetHandoffCreate,
    WidgetLead,
    WidgetLeadCreate,
    WidgetMessageCreate,
    WidgetStarted,
    public_message,
)

router = Router()

PUBLIC = "/v1/public/agents/<agentId>/conversations"


def _conversation(conversation: Conversation) -> dict[str, Any]:
    lead = conversation.lead
    state = conversation.handoff_state
    return {
        "id": conversation.id,
        "agent_id": conversation.agent_id,
        "visitor_id": conversation.visitor_id,
        "verified": conversation.verified,
        "started_at": conversation.started_at,
        "message_count": conversation.message_count,
        "handoff": conversation.handoff,
        # the visitor's own: that they left contact details (not the details themselves)
        "lead": {"name": lead.name, "captured_at": lead.captured_at} if lead else None,
        "handoff_state": (
            state.model_dump(
                mode="json", include={"status", "requested_at", "changed_at", "operator"}
            )
            if state
            else None
        ),
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
@answers(WidgetStarted, status=201)
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
        "realtime": channel().describe(),
    }
    return json_response(router, data, status=201, headers=public_cors(router))


@router.get(f"{PUBLIC}/<conversationId>", summary="A conversation (widget)", tags=["widget"])
@answers(WidgetConversationMessages)
def get_widget_conversation(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    token = router.current_event.get_query_string_value("visitor_token")
    after = service.after_from_query(router.current_event.query_string_parameters or {})
    access = _access(who, agentId, token)
    conversation, found = service.get_conversation(access, conversationId, after=after)
    data = {
        "conversation": _conversation(conversation),
        "messages": [message_view(m, public=True) for m in found],
        "realtime": channel().describe(),
    }
    return json_response(router, data, headers=public_cors(router))


@router.post(
    f"{PUBLIC}/<conversationId>/messages", summary="Ask the agent (widget)", tags=["widget"]
)
@answers(status=201)
@accepts(WidgetMessageCreate)
def post_widget_message(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(router, WidgetMessageCreate)
    access = _access(who, agentId, body.visitor_token)
    policy = message_policy()
    exchange = messages.post_message(access, conversationId, body.text, policy, body.context)
    data = exchange_view(exchange, public=True, tenant_id=who.tenant_id, agent_id=agentId)
    if exchange.answer is None:
        data["handoff_state"] = {"status": "held"}
    return json_response(router, data, status=201, headers=public_cors(router))


@router.post(
    f"{PUBLIC}/<conversationId>/messages/<messageId>/feedback",
    summary="Rate an answer (widget)",
    tags=["widget"],
)
@answers(Feedback)
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
@answers(WidgetLead, status=201)
@accepts(WidgetLeadCreate)
def post_widget_lead(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(router, WidgetLeadCreate)
    access = _access(who, agentId, body.visitor_token)
    lead, written = service.capture_lead(
        access, conversationId, LeadCreate(**_fields(body, LeadCreate))
    )
    data = {"lead": lead.model_dump(mode="json"), "message": public_message(written)}
    return json_response(router, data, status=201, headers=public_cors(router))


@router.post(
    f"{PUBLIC}/<conversationId>/handoff", summary="Ask for a human (widget)", tags=["widget"]
)
@answers(WidgetHandoff)
@accepts(WidgetHandoffCreate)
def post_widget_handoff(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(router, WidgetHandoffCreate)
    access = _access(who, agentId, body.visitor_token)
    asked = HandoffCreate(**_fields(body, HandoffCreate))
    conversation, written = handoff.request_handoff(access, conversationId, asked, channel())
    data = {
        "conversation": _conversation(conversation),
        "message": public_message(written) if written else None,
    }
    return json_response(router, data, headers=public_cors(router))
