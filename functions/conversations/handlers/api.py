"""Conversations REST API: the widget's public routes (publishable key from an allowed Origin,
plus the visitor token of its conversation) and the server's routes (secret keys)."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, Field

from agenthub.events import Actor
from agenthub.http import (
    ALL_ROLES,
    MANAGERS,
    WRITERS,
    Caller,
    accepts,
    check_path_ids,
    endpoint,
    json_response,
    make_resolver,
    paginated,
    parse_body,
    publishable_caller,
    resolve,
)
from agenthub.runtime import init_function
from agenthub.settings import ApiSettings
from conversations.logic import messages, service, visitors
from conversations.logic.rate_limits import Limits
from conversations.logic.service import Access
from conversations.models import (
    Conversation,
    FeedbackCreate,
    HandoffCreate,
    LeadCreate,
    Message,
    MessageCreate,
    ServerConversationStart,
    WidgetAccess,
    WidgetConversationStart,
    WidgetFeedbackCreate,
    WidgetHandoffCreate,
    WidgetLeadCreate,
    WidgetMessageCreate,
    public_message,
)

app = make_resolver()

PUBLIC = "/v1/public/agents/<agentId>/conversations"
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


class ConversationSettings(ApiSettings):
    documents_bucket: str = Field(min_length=3)
    embedding_provider: Literal["none", "bedrock"] = "none"
    embedding_model: str | None = None
    embedding_dimensions: int = 512
    visitor_messages_per_window: int = Field(default=20, ge=1)
    agent_messages_per_window: int = Field(default=600, ge=1)
    rate_window_seconds: int = Field(default=60, ge=1, le=3600)


def _settings() -> ConversationSettings:
    return init_function(ConversationSettings)


def _policy() -> messages.MessagePolicy:
    from knowledge.logic import embedder

    settings = _settings()
    return messages.MessagePolicy(
        limits=Limits(
            visitor_messages=settings.visitor_messages_per_window,
            agent_messages=settings.agent_messages_per_window,
            window_seconds=settings.rate_window_seconds,
        ),
        documents_bucket=settings.documents_bucket,
        embedder=embedder(
            settings.embedding_provider, settings.embedding_model, settings.embedding_dimensions
        ),
    )


def _tokens() -> visitors.VisitorTokens:
    from agenthub.clients import secret_json

    key = str(secret_json(_settings().signing_secret_arn)["key"])
    return visitors.VisitorTokens(key.encode())


# ---------------------------------------------------------------------------- views


def _conversation_view(conversation: Conversation) -> dict[str, Any]:
    data = conversation.model_dump(mode="json", exclude={"tenant_id", "history", "state_version"})
    data["has_lead"] = conversation.has_lead
    data["handoff"] = conversation.handoff
    return data


def _public_conversation(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "agent_id": conversation.agent_id,
        "visitor_id": conversation.visitor_id,
        "verified": conversation.verified,
        "started_at": conversation.started_at,
        "message_count": conversation.message_count,
        "handoff": conversation.handoff,
    }


def _message_view(message: Message, *, public: bool) -> dict[str, Any]:
    if public:
        return public_message(message)
    return message.model_dump(mode="json", exclude={"conversation_id"})


def _exchange_view(exchange: messages.Exchange, *, public: bool) -> dict[str, Any]:
    return {
        "question": _message_view(exchange.question, public=public),
        "answer": _message_view(exchange.answer, public=public),
    }


def _cors() -> dict[str, str]:
    origin = app.current_event.headers.get("origin") or ""
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


# ---------------------------------------------------------------------------- widget routes


def _optional_body[M: BaseModel](model: type[M]) -> M:
    """A body that may be left out entirely (an empty object then)."""
    event = app.current_event
    raw = event.decoded_body if event.is_base64_encoded else event.body
    return model() if not raw else parse_body(app, model)


def _widget(agent_id: str, ids: dict[str, str]) -> Caller:
    who = publishable_caller(app, agent_id)
    check_path_ids(ids)
    return who


def _widget_access(who: Caller, agent_id: str, token: str | None) -> Access:
    if not token:
        raise visitors.InvalidVisitor("this call needs the conversation's visitor_token")
    visitor = _tokens().verify(token, who.tenant_id, agent_id)
    return Access(who.tenant_id, agent_id, Actor(**who.actor), visitor.id)


@app.post(PUBLIC, summary="Start a conversation (widget)", tags=["widget"])
@accepts(WidgetConversationStart)
def start_widget_conversation(agentId: str):
    who = _widget(agentId, {})
    body = _optional_body(WidgetConversationStart)
    tokens = _tokens()
    if body.visitor is not None:
        visitor = visitors.verify_signed(
            who.tenant_id, agentId, body.visitor.id, body.visitor.signature
        )
    elif body.visitor_token is not None:
        visitor = tokens.verify(body.visitor_token, who.tenant_id, agentId)
    else:
        visitor = visitors.Visitor(visitors.new_anonymous_id(), verified=False)
    access = Access(who.tenant_id, agentId, Actor(**who.actor), visitor.id)
    conversation = service.start_conversation(access, visitor, "widget")
    data = {
        "conversation": _public_conversation(conversation),
        "visitor_token": tokens.issue(who.tenant_id, agentId, visitor),
    }
    return json_response(app, data, status=201, headers=_cors())


@app.get(f"{PUBLIC}/<conversationId>", summary="A conversation (widget)", tags=["widget"])
def get_widget_conversation(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    token = app.current_event.get_query_string_value("visitor_token")
    access = _widget_access(who, agentId, token)
    conversation, found = service.get_conversation(access, conversationId)
    data = {
        "conversation": _public_conversation(conversation),
        "messages": [_message_view(m, public=True) for m in found],
    }
    return json_response(app, data, headers=_cors())


@app.post(f"{PUBLIC}/<conversationId>/messages", summary="Ask the agent (widget)", tags=["widget"])
@accepts(WidgetMessageCreate)
def post_widget_message(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(app, WidgetMessageCreate)
    access = _widget_access(who, agentId, body.visitor_token)
    exchange = messages.post_message(access, conversationId, body.text, _policy())
    return json_response(app, _exchange_view(exchange, public=True), status=201, headers=_cors())


@app.post(
    f"{PUBLIC}/<conversationId>/messages/<messageId>/feedback",
    summary="Rate an answer (widget)",
    tags=["widget"],
)
@accepts(WidgetFeedbackCreate)
def post_widget_feedback(agentId: str, conversationId: str, messageId: str):
    who = _widget(agentId, {"conversationId": conversationId, "messageId": messageId})
    body = parse_body(app, WidgetFeedbackCreate)
    access = _widget_access(who, agentId, body.visitor_token)
    feedback = service.give_feedback(access, conversationId, messageId, body)
    return json_response(app, feedback.model_dump(mode="json"), headers=_cors())


@app.post(
    f"{PUBLIC}/<conversationId>/lead", summary="Leave contact details (widget)", tags=["widget"]
)
@accepts(WidgetLeadCreate)
def post_widget_lead(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(app, WidgetLeadCreate)
    access = _widget_access(who, agentId, body.visitor_token)
    lead = service.capture_lead(access, conversationId, LeadCreate(**_fields(body, LeadCreate)))
    return json_response(app, {"lead": lead.model_dump(mode="json")}, status=201, headers=_cors())


@app.post(f"{PUBLIC}/<conversationId>/handoff", summary="Ask for a human (widget)", tags=["widget"])
@accepts(WidgetHandoffCreate)
def post_widget_handoff(agentId: str, conversationId: str):
    who = _widget(agentId, {"conversationId": conversationId})
    body = parse_body(app, WidgetHandoffCreate)
    access = _widget_access(who, agentId, body.visitor_token)
    conversation, _ = service.request_handoff(
        access, conversationId, HandoffCreate(**_fields(body, HandoffCreate))
    )
    return json_response(app, {"conversation": _public_conversation(conversation)}, headers=_cors())


def _fields(body: WidgetAccess, model: type[BaseModel]) -> dict[str, Any]:
    return body.model_dump(include=set(model.model_fields))


# ---------------------------------------------------------------------------- server routes


def _access(who: Caller, agent_id: str) -> Access:
    return Access(who.tenant_id, agent_id, Actor(**who.actor))


@app.post(SERVER, summary="Start a conversation (server)", tags=["conversations"])
@endpoint(app, roles=WRITERS, body=ServerConversationStart)
def start_conversation(who: Caller, body: ServerConversationStart, agentId: str):
    # The server is trusted to name its visitor; none named is a new anonymous visitor.
    visitor = (
        visitors.Visitor(body.visitor_id, verified=True)
        if body.visitor_id
        else visitors.Visitor(visitors.new_anonymous_id(), verified=False)
    )
    conversation = service.start_conversation(_access(who, agentId), visitor, "api")
    data = {
        "conversation": _conversation_view(conversation),
        "visitor_token": _tokens().issue(who.tenant_id, agentId, visitor),
    }
    return json_response(app, data, status=201)


@app.get(
    f"{SERVER}/<conversationId>", summary="A conversation and its messages", tags=["conversations"]
)
@endpoint(app, roles=ALL_ROLES)
def get_conversation(who: Caller, agentId: str, conversationId: str):
    conversation, found = service.get_conversation(_access(who, agentId), conversationId)
    data = {
        "conversation": _conversation_view(conversation),
        "messages": [_message_view(m, public=False) for m in found],
    }
    return json_response(app, data, conditional=True)


@app.post(
    f"{SERVER}/<conversationId>/messages", summary="Ask the agent (server)", tags=["conversations"]
)
@endpoint(app, roles=WRITERS, body=MessageCreate)
def post_message(who: Caller, body: MessageCreate, agentId: str, conversationId: str):
    exchange = messages.post_message(_access(who, agentId), conversationId, body.text, _policy())
    return json_response(app, _exchange_view(exchange, public=False), status=201)


@app.post(
    f"{SERVER}/<conversationId>/messages/<messageId>/feedback",
    summary="Rate an answer",
    tags=["conversations"],
)
@endpoint(app, roles=WRITERS, body=FeedbackCreate)
def post_feedback(
    who: Caller, body: FeedbackCreate, agentId: str, conversationId: str, messageId: str
):
    feedback = service.give_feedback(_access(who, agentId), conversationId, messageId, body)
    return json_response(app, feedback.model_dump(mode="json"))


@app.post(f"{SERVER}/<conversationId>/lead", summary="Capture a lead", tags=["conversations"])
@endpoint(app, roles=WRITERS, body=LeadCreate)
def post_lead(who: Caller, body: LeadCreate, agentId: str, conversationId: str):
    lead = service.capture_lead(_access(who, agentId), conversationId, body)
    return json_response(app, {"lead": lead.model_dump(mode="json")}, status=201)


@app.post(
    f"{SERVER}/<conversationId>/handoff", summary="Hand off to a human", tags=["conversations"]
)
@endpoint(app, roles=WRITERS, body=HandoffCreate)
def post_handoff(who: Caller, body: HandoffCreate, agentId: str, conversationId: str):
    conversation, _ = service.request_handoff(_access(who, agentId), conversationId, body)
    return json_response(app, {"conversation": _conversation_view(conversation)})


@app.get(
    "/v1/conversations", summary="List conversations (filters, cursor)", tags=["conversations"]
)
@endpoint(app, roles=ALL_ROLES)
def list_conversations(who: Caller):
    filters = service.filters_from_query(app.current_event.query_string_parameters or {})
    load = partial(service.list_conversations, who.tenant_id, filters)
    return paginated(
        app, who, load, view=_conversation_view, fields=CONVERSATION_FIELDS, query=filters
    )


# ---------------------------------------------------------------------------- identity secret


@app.post(
    "/v1/agents/<agentId>/identity-secret",
    summary="Rotate the agent's visitor-identity secret (shown once)",
    tags=["conversations"],
)
@endpoint(app, roles=MANAGERS)
def rotate_identity_secret(who: Caller, agentId: str):
    rotated = visitors.rotate_identity_secret(who.tenant_id, agentId, Actor(**who.actor))
    data = {
        "agent_id": agentId,
        "secret": rotated.secret,
        "algorithm": "HMAC-SHA256",
        "created_at": rotated.created_at,
        "previous_valid_until": rotated.previous_valid_until,
    }
    return json_response(app, data, status=201)


def _flush_metrics() -> None:
    """Emit the answer cache's hit/miss counts (EMF), if this request recorded any; a metrics
    failure never fails the visitor's request."""
    from agenthub.observability import logger, metrics

    if not metrics.cache_info().currsize or not metrics().metric_set:
        return
    try:
        metrics().flush_metrics()
    except Exception:
        logger().exception("metrics could not be flushed")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return resolve(app, event, context, max_body_bytes=lambda: _settings().max_body_bytes)
    finally:
        _flush_metrics()
