"""Conversations' API and domain models, with the limits the API enforces."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from agenthub.contact import normalize_email
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
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

Channel = Literal["widget", "api"]
Rating = Literal["up", "down"]
# answered: the agent answered; failed: the provider could not (the question is kept); sent: a
# person holds the conversation, the message is theirs to answer
MessageStatus = Literal["answered", "failed", "sent"]
# user: the visitor; assistant: the agent; operator: a person of the tenant's team; system: a
# note in the conversation (a handoff asked for, a person joined or left, contact details left)
Role = Literal["user", "assistant", "operator", "system"]
SystemKind = Literal[
    "handoff_requested", "operator_joined", "handoff_released", "handoff_timed_out", "lead_captured"
]
# requested: a visitor asked for a person; held: a person replied and holds the conversation
# (the agent stays quiet); timed_out: nobody replied in time (the visitor was asked for an
# email, the transcript went to the team); released: a person handed the conversation back.
HandoffStatus = Literal["requested", "held", "timed_out", "released"]
OPEN_HANDOFF: tuple[HandoffStatus, ...] = ("requested", "held", "timed_out")
AUTHOR_MAX_CHARS = 60
CONTEXT_MAX_ENTRIES = 20
CONTEXT_VALUE_MAX_CHARS = 500
_CONTEXT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


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


def _context(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    if len(value) > CONTEXT_MAX_ENTRIES:
        raise ValueError(f"at most {CONTEXT_MAX_ENTRIES} context values")
    for name, item in value.items():
        if not _CONTEXT_NAME.match(name):
            raise ValueError("context names are 1 to 40 letters, digits, '_', '.' or '-'")
        if isinstance(item, str) and len(item) > CONTEXT_VALUE_MAX_CHARS:
            raise ValueError(f"context values have at most {CONTEXT_VALUE_MAX_CHARS} characters")
    return value


class MessageCreate(StrictInput):
    text: str = Field(min_length=1, max_length=MESSAGE_MAX_CHARS)
    # What the page says about where the visitor is ({"plan": "pro"}); the agent reads it as
    # data, never as instructions.
    context: dict[str, str | int | float | bool] | None = None

    @field_validator("context")
    @classmethod
    def _check_context(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _context(value)


class WidgetAccess(StrictInput):
    """What every widget call on an existing conversation carries: its visitor token."""

    visitor_token: str = Field(min_length=10, max_length=600)


class RealtimeSubscribe(BaseModel):
    """A WebSocket connection's ``subscribe`` message: follow the visitor's own conversation
    (other fields, such as ``action``, are ignored)."""

    agent_id: str = Field(pattern=ID_PATTERN)
    key: str = Field(min_length=10, max_length=200)
    conversation_id: str = Field(pattern=ID_PATTERN)
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
    return normalize_email(value)


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


class OperatorReplyCreate(StrictInput):
    """A person of the tenant's team writes to the visitor; ``author`` is the name the
    visitor sees (none: "someone from the team")."""

    text: str = Field(min_length=1, max_length=MESSAGE_MAX_CHARS)
    author: str | None = Field(default=None, min_length=1, max_length=AUTHOR_MAX_CHARS)


class HandoffRelease(StrictInput):
    author: str | None = Field(default=None, min_length=1, max_length=AUTHOR_MAX_CHARS)


# ---------------------------------------------------------------------------- domain


class Lead(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    note: str | None = None
    captured_at: str


class HandoffState(BaseModel):
    """The conversation's handoff now (the history is in its system messages)."""

    status: HandoffStatus
    requested_at: str
    changed_at: str
    operator: str | None = None  # the name of the person who holds or held it
    # transcript emails sent for this handoff: "timeout", then "lead" if the visitor left
    # contact details after it
    emailed: list[str] = Field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in OPEN_HANDOFF


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
    handoff_state: HandoffState | None = None
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


class MessageView(BaseModel):
    """A message as the API shows it to a tenant's keys (the stored one less its
    conversation id)."""

    id: str
    role: Role
    text: str
    created_at: str
    status: MessageStatus = "answered"
    # operator messages: the person's name; system notes: who the note is about
    author: str | None = None
    kind: SystemKind | None = None  # system notes
    context: dict[str, str | int | float | bool] | None = None  # visitor messages
    # assistant messages
    citations: list[CitationView] = Field(default_factory=list)
    abstained: bool = False
    cached: bool = False
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int | None = None
    feedback: Feedback | None = None


class Message(MessageView):
    conversation_id: str


class OpenHandoff(BaseModel, frozen=True):
    """One line of the tenant's open handoffs."""

    conversation_id: str
    agent_id: str
    status: HandoffStatus
    requested_at: str
    changed_at: str
    operator: str | None


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


class HandoffFilters(BaseModel):
    agent_id: str | None = Field(default=None, pattern=ID_PATTERN)


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
    # when: the handoff's timeout counts from it (and names the handoff it is for)
    requested_at: str
    visitor_verified: bool
    has_lead: bool
    has_reason: bool


class OperatorRepliedData(ConversationEventData):
    message_id: str
    joined: bool  # the reply that took the conversation over


class HandoffReleasedData(ConversationEventData):
    was: HandoffStatus  # the status it was released from


class HandoffTimedOutData(ConversationEventData):
    requested_at: str


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


class OperatorReplied(ConversationEvent):
    detail_type = "OperatorReplied"
    data: OperatorRepliedData


class HandoffReleased(ConversationEvent):
    detail_type = "HandoffReleased"
    data: HandoffReleasedData


class HandoffTimedOut(ConversationEvent):
    """Nobody replied within the agent's handoff timeout."""

    detail_type = "HandoffTimedOut"
    data: HandoffTimedOutData


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
            "author",
            "kind",
        },
    )


# ---- answers: the bodies the routes send, as the OpenAPI document describes them ----


class ConversationView(BaseModel):
    """A conversation as a tenant's keys see it (no rolling state)."""

    id: str
    agent_id: str
    visitor_id: str
    verified: bool
    channel: Channel
    started_at: str
    unanswered: bool
    lead: Lead | None
    handoff_requested_at: str | None
    handoff_reason: str | None
    handoff_state: HandoffState | None
    message_count: int
    last_message_at: str | None
    has_lead: bool
    handoff: bool


class StartedConversation(BaseModel):
    conversation: ConversationView
    visitor_token: str = Field(description="the visitor's token for the widget routes")


class ConversationMessages(BaseModel):
    conversation: ConversationView
    messages: list[MessageView]


class ConversationHandoff(BaseModel):
    conversation: ConversationView


class ReleasedHandoff(BaseModel):
    conversation: ConversationView
    message: MessageView = Field(description="the system note saying who released it")


class CapturedLead(BaseModel):
    lead: Lead


class IdentitySecretShown(BaseModel):
    """The agent's new identity secret: shown this once."""

    agent_id: str
    secret: str
    algorithm: Literal["HMAC-SHA256"]
    created_at: str
    previous_valid_until: str | None = Field(
        description="until when the previous secret still verifies (null: there was none)"
    )


class PublicMessage(BaseModel):
    """A message as the widget sees it: no model, tokens or timings."""

    id: str
    role: Role
    text: str
    created_at: str
    status: MessageStatus
    citations: list[CitationView]
    abstained: bool
    feedback: Feedback | None
    author: str | None
    kind: SystemKind | None


class VisitorLead(BaseModel):
    """That the visitor left contact details (not the details themselves)."""

    name: str | None
    captured_at: str


class VisitorHandoff(BaseModel):
    status: HandoffStatus
    requested_at: str
    changed_at: str
    operator: str | None


class WidgetConversation(BaseModel):
    """A conversation as its visitor's widget sees it."""

    id: str
    agent_id: str
    visitor_id: str
    verified: bool
    started_at: str
    message_count: int
    handoff: bool
    lead: VisitorLead | None
    handoff_state: VisitorHandoff | None


class Realtime(BaseModel):
    url: str = Field(description="the WebSocket URL that pushes a person's replies")


class WidgetStarted(BaseModel):
    conversation: WidgetConversation
    visitor_token: str = Field(description="send it back on every later widget call")
    realtime: Realtime | None


class WidgetConversationMessages(BaseModel):
    conversation: WidgetConversation
    messages: list[PublicMessage]
    realtime: Realtime | None


class WidgetLead(BaseModel):
    lead: Lead
    message: PublicMessage = Field(description="the system note the lead adds")


class WidgetHandoff(BaseModel):
    conversation: WidgetConversation
    message: PublicMessage | None = Field(description="the note it adds (null: asked before)")
