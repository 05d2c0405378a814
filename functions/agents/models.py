"""Agents' API and domain models, with the limits the API enforces."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from agenthub.contact import normalize_email
from agenthub.events import DomainEvent, EventData
from agenthub.models import StrictInput
from agenthub.origins import normalize_origin

NAME_MAX = 80
INSTRUCTIONS_MAX = 8000
GREETING_MAX = 500
QUESTION_MAX = 150
QUESTIONS_MAX = 6
ORIGINS_MAX = 20

# Bedrock model ids the platform supports, plus the offline extractive answerer.
Model = Literal[
    "extractive",
    "amazon.nova-micro-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-pro-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "anthropic.claude-sonnet-4-20250514-v1:0",
]
MODELS = get_args(Model)
Tool = Literal["knowledge", "booking", "payments", "lead_capture", "handoff"]
# The widget's interface languages (functions/widget/assets/ui/10-strings.js); "auto": the
# visitor's browser language when the widget has it, else English.
Locale = Literal["auto", "en", "de", "es", "fr", "pt", "ar"]
# A handoff nobody answered within this time asks the visitor for an email and sends the
# transcript to the team. The upper bound is SQS's longest message delay (15 minutes), which
# times the handoff (functions/conversations/logic/handoff_worker.py).
HANDOFF_TIMEOUT_MIN = 30
HANDOFF_TIMEOUT_MAX = 900


class Theme(StrictInput):
    primary_color: str = Field(default="#2563eb", pattern=r"^#[0-9a-fA-F]{6}$")
    position: Literal["bottom-right", "bottom-left"] = "bottom-right"
    title: str = Field(default="", max_length=60)
    avatar_url: HttpUrl | None = None
    # "auto" follows the visitor's prefers-color-scheme
    mode: Literal["auto", "light", "dark"] = "auto"

    @field_validator("avatar_url")
    @classmethod
    def _https(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and value.scheme != "https":
            raise ValueError("avatar_url must use https")
        return value


class HandoffSettings(StrictInput):
    """When a visitor asks for a person: how long the team has to answer before the visitor
    is asked for an email, and where the transcript then goes (none: it stays in the API)."""

    timeout_seconds: int = Field(default=120, ge=HANDOFF_TIMEOUT_MIN, le=HANDOFF_TIMEOUT_MAX)
    email: str | None = Field(default=None, max_length=254)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return normalize_email(value) if value else None


def _origins(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return sorted({normalize_origin(origin) for origin in value})


class AgentFields(StrictInput):
    """Fields a client may set; each optional here so PATCH can reuse them."""

    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    description: str | None = Field(default=None, max_length=500)
    instructions: str | None = Field(default=None, max_length=INSTRUCTIONS_MAX)
    model: Model | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    greeting: str | None = Field(default=None, max_length=GREETING_MAX)
    suggested_questions: list[str] | None = Field(default=None, max_length=QUESTIONS_MAX)
    theme: Theme | None = None
    allowed_origins: list[str] | None = Field(default=None, max_length=ORIGINS_MAX)
    enabled_tools: list[Tool] | None = None
    locale: Locale | None = None
    handoff: HandoffSettings | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str] | None) -> list[str] | None:
        return _origins(value)

    @field_validator("suggested_questions")
    @classmethod
    def _check_questions(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [q.strip() for q in value]
        if any(not q or len(q) > QUESTION_MAX for q in cleaned):
            raise ValueError(f"each question must have 1 to {QUESTION_MAX} characters")
        return cleaned

    @field_validator("enabled_tools")
    @classmethod
    def _unique_tools(cls, value: list[str] | None) -> list[str] | None:
        return sorted(set(value)) if value is not None else None


class AgentCreate(AgentFields):
    name: str = Field(min_length=1, max_length=NAME_MAX)


def _without_nulls(schema: dict[str, Any]) -> None:
    """A PATCH refuses null for every field (422): the document must not offer it."""
    for prop in schema.get("properties", {}).values():
        options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"]
        if "anyOf" in prop and len(options) == 1:
            del prop["anyOf"]
            prop.update(options[0])
        elif "anyOf" in prop:
            prop["anyOf"] = options
        prop.pop("default", None)


class AgentUpdate(AgentFields):
    """PATCH body: only the fields to change, plus the version being updated (or If-Match)."""

    model_config = ConfigDict(json_schema_extra=_without_nulls)

    version: int | None = Field(default=None, ge=1, strict=True)


class Agent(BaseModel):
    id: str
    tenant_id: str
    name: str
    description: str = ""
    instructions: str = ""
    model: str = "extractive"
    temperature: float = 0.2
    greeting: str = "Hi! How can I help?"
    suggested_questions: list[str] = Field(default_factory=list)
    theme: dict[str, object] = Field(default_factory=lambda: Theme().model_dump(mode="json"))
    allowed_origins: list[str] = Field(default_factory=list)
    enabled_tools: list[str] = Field(default_factory=lambda: ["knowledge"])
    locale: str = "en"
    handoff: dict[str, object] = Field(
        default_factory=lambda: HandoffSettings().model_dump(mode="json")
    )
    version: int = 1
    created_at: str
    updated_at: str

    def public_config(self) -> dict[str, object]:
        """What a website visitor's browser may see: no instructions, model, origins or handoff
        settings."""
        return {
            "agent_id": self.id,
            "name": self.name,
            "greeting": self.greeting,
            "suggested_questions": self.suggested_questions,
            "theme": self.theme,
            "tools": [t for t in self.enabled_tools if t in ("lead_capture", "handoff", "booking")],
            "locale": self.locale,
            "version": self.version,
        }


class PublicConfig(BaseModel):
    """An agent as a website visitor's browser sees it (``Agent.public_config``)."""

    agent_id: str
    name: str
    greeting: str
    suggested_questions: list[str]
    theme: dict[str, object]
    tools: list[str] = Field(description="of lead_capture, handoff and booking: those enabled")
    locale: str
    version: int


# What a client may select with ?fields= (the tenant id is never shown).
AGENT_FIELDS = tuple(name for name in Agent.model_fields if name != "tenant_id")


class AgentEvent(DomainEvent):
    source = "agenthub.agents"


class AgentCreatedData(EventData):
    name: str
    version: int


class AgentUpdatedData(EventData):
    changed: list[str]  # the fields the update set
    version: int


class AgentDeletedData(EventData):
    """Nothing beyond the event's subject (``agent/<id>``)."""


class AgentCreated(AgentEvent):
    detail_type = "AgentCreated"
    data: AgentCreatedData


class AgentUpdated(AgentEvent):
    detail_type = "AgentUpdated"
    data: AgentUpdatedData


class AgentDeleted(AgentEvent):
    detail_type = "AgentDeleted"
    data: AgentDeletedData
