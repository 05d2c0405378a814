"""Conversations' API and domain models, with the limits the API enforces."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from agenthub.events import DomainEvent, EventData
from agenthub.models import ID_PATTERN, StrictInput

# Guardrails: what one visitor message may be, what follows it.
MESSAGE_MAX_CHARS = 2000
COMMENT_MAX_CHARS = 1000
# A conversation answers this many questions; then the visitor starts a new one.
MAX_MESSAGES_PER_CONVERSATION = 200

# Visitor ids the tenant's server signs: its own user ids (no '#', which keys use).
VISITOR_ID_PATTERN = r"^[A-Za-z0-9_.:@+-]{1,128}$"
ANONYMOUS_PREFIX = "anon_"
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$"
)
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

Channel = Literal["widget", "api"]
Rating = Literal["up", "down"]
MessageStatus = Literal["answered", "failed"]


# ---------------------------------------------------------------------------- API input


class SignedVisitor(StrictInput):
    """A visitor the tenant's server vouches for: ``signature`` is the lower-case hex
    HMAC-SHA256 of ``id`` keyed with the agent's identity secret."""

    id: str = Field(pattern=VISITOR_ID_PATTERN)
    signature: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class WidgetConversationStart(StrictInput):
    """Widget: a signed visitor, the visitor token of an earlier conversation (the same
    visitor again), or nothing (a new anonymous visitor)."""

    visitor: SignedVisitor | None = None
    visitor_token: str | None = Field(default=None, min_length=10, max_length=600)

    @model_validator(mode="after")
    def _one_identity(self) -> WidgetConversationStart:
        if self.visitor is not None and self.visitor_token is not None:
            raise ValueError("send either visitor or visitor_token, not both")
        return self


class ServerConversationStart(StrictInput):
    """Server (secret key): it may name the visitor directly; omitted, the visitor is a new
    anonymous one."""

    visitor_id: str | None = Field(default=None, pattern=VISITOR_ID_PATTERN)


class MessageCreate(StrictInput):
    text: str = Field(min_length=1, max_length=MESSAGE_MAX_CHARS)


class WidgetAccess(StrictInput):
    """What every widget call on an existing conversation carries: its visitor token."""

    visitor_token: str = Field(min_length=10, max_length=600)


class WidgetMessageCreate(MessageCreate, WidgetAccess):
    pass


class FeedbackCreate(StrictInput):
    rating: Rating
    comment: str | None = Field(default=None, max_length=COMMENT_MAX_CHARS)


class WidgetFeedbackCreate(FeedbackCreate, WidgetAccess):
    pass


def _email(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an email address like name@example.com")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def _phone(value: str | None) -> str | None:
    """E.164-ish: an optional '+', then 7 to 15 digits; spaces, dots, dashes and brackets are
    separators. Without a '+' the number is kept as given (a local number), digits only."""
    if value is None or value == "":
        return None
    compact = _PHONE_SEPARATORS.sub("", value)
    candidate = compact if compact.startswith("+") else "+" + compact
    if not _E164.match(candidate):
        raise ValueError("not a phone number like +14155550123")
    return compact


class LeadCreate(StrictInput):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=COMMENT_MAX_CHARS)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("phone")
    @classmethod
    def _check_phone(cls, value: str | None) -> str | None:
        return _phone(value)

    @model_validator(mode="after")
    def _reachable(self) -> LeadCreate:
        if self.email is None and self.phone is None:
            raise ValueError("a lead needs an email or a phone number")
        return self


class WidgetLeadCreate(LeadCreate, WidgetAccess):
    pass


class HandoffCreate(StrictInput):
    reason: str | None = Field(default=None, max_length=COMMENT_MAX_CHARS)


class WidgetHandoffCreate(HandoffCreate, WidgetAccess):
    pass


# ---------------------------------------------------------------------------- domain


class Lead(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    note: str | None = None
    captured_at: str


class Conversation(BaseModel):
    """The conversation's header (what lists show and filter on) and its rolling state."""

    id: str
    tenant_id: str
    agent_id: str
    visitor_id: str
    verified: bool  # the visitor id was signed by the tenant's server (or set by it)
    channel: Channel
    started_at: str
    unanswered: bool = False  # some question was not covered by the knowledge base
    lead: Lead | None = None
    handoff_requested_at: str | None = None
    handoff_reason: str | None = None
    # rolling state (its own item: written once per message, not in the list index)
    message_count: int = 0
    last_message_at: str | None = None
    history: list[dict[str, str]] = Field(default_factory=list)  # [{"role", "text"}], oldest first
    state_version: int = 1

    @property
    def has_lead(self) -> bool:
        return self.lead is not None

    @property
    def handoff(self) -> bool:
        return self.handoff_requested_at is not None


class CitationView(BaseModel):
    index: int
    document_id: str
    chunk_id: str
    title: str
    source_url: str | None = None
    file_name: str | None = None
    heading_path: list[str] = Field(default_factory=list)
    page: int | None = None
    # The sentence of the document the answer quotes (extractive) or draws on (a model's).
    snippet: str = ""


class Feedback(BaseModel):
    rating: Rating
    comment: str | None = None
    given_at: str


class Message(BaseModel):
    id: str
    conversation_id: str
    role: Literal["user", "assistant"]
    text: str
    created_at: str
    status: MessageStatus = "answered"
    # assistant messages
    citations: list[CitationView] = Field(default_factory=list)
    abstained: bool = False
    cached: bool = False
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int | None = None
    feedback: Feedback | None = None


class CachedAnswer(BaseModel):
    """What the answer cache keeps: enough to answer again without retrieval or generation."""

    text: str
    citations: list[CitationView]
    abstained: bool
    model: str
    search_query: str


class ConversationFilters(BaseModel):
    agent_id: str | None = Field(default=None, pattern=ID_PATTERN)
    started_from: str | None = None  # ISO-8601 UTC, inclusive
    started_to: str | None = None  # ISO-8601 UTC, inclusive
    unanswered: bool | None = None
    has_lead: bool | None = None
    handoff: bool | None = None


class IdentitySecret(BaseModel):
    agent_id: str
    tenant_id: str
    secret: str
    created_at: str
    previous_secret: str | None = None
    previous_valid_until: str | None = None


# ---------------------------------------------------------------------------- events


class ConversationEvent(DomainEvent):
    source = "agenthub.conversations"


class ConversationEventData(EventData):
    agent_id: str
    conversation_id: str


class ConversationStartedData(ConversationEventData):
    channel: Channel
    verified: bool


class MessageAnsweredData(ConversationEventData):
    """What billing and analytics count per answer."""

    message_id: str
    question_id: str
    channel: Channel
    model: str | None
    tokens_in: int
    tokens_out: int
    latency_ms: int
    cache_hit: bool
    abstained: bool
    citations: int  # how many


class FeedbackReceivedData(ConversationEventData):
    message_id: str
    rating: Rating
    has_comment: bool


class LeadCapturedData(ConversationEventData):
    """No personal data (events are archived with the audit log): consumers read the lead
    from the conversation."""

    has_email: bool
    has_phone: bool


class HandoffRequestedData(ConversationEventData):
    visitor_verified: bool
    has_lead: bool
    has_reason: bool


class IdentitySecretRotatedData(EventData):
    agent_id: str
    had_previous: bool


class ConversationStarted(ConversationEvent):
    detail_type = "ConversationStarted"
    data: ConversationStartedData


class MessageAnswered(ConversationEvent):
    detail_type = "MessageAnswered"
    data: MessageAnsweredData


class FeedbackReceived(ConversationEvent):
    detail_type = "FeedbackReceived"
    data: FeedbackReceivedData


class LeadCaptured(ConversationEvent):
    detail_type = "LeadCaptured"
    data: LeadCapturedData


class HandoffRequested(ConversationEvent):
    detail_type = "HandoffRequested"
    data: HandoffRequestedData


class IdentitySecretRotated(ConversationEvent):
    detail_type = "IdentitySecretRotated"
    data: IdentitySecretRotatedData


def public_message(message: Message) -> dict[str, Any]:
    """A message as the widget sees it: no model, tokens or timings."""
    return message.model_dump(
        mode="json",
        include={
            "id",
            "role",
            "text",
            "created_at",
            "status",
            "citations",
            "abstained",
            "feedback",
        },
    )
