"""Analytics models: per-agent daily counters, nightly rollups, reports and the views of other
domains' events it counts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agenthub.models import StrictInput

# The near-real-time counters, per agent and local day.
COUNTERS = (
    "conversations",
    "messages",
    "answered",
    "abstained",
    "feedback_up",
    "feedback_down",
    "leads",
    "handoffs",
    "bookings",
    "payments",
    "tokens_in",
    "tokens_out",
    "cost_micros",
    "unpriced_messages",
)
MAX_RANGE_DAYS = 366
MAX_EXPORT_DAYS = 1830  # the CSV export (streamed from paged reads): five years
UNATTRIBUTED = "unattributed"  # payments no agent asked for


class DayCounts(BaseModel):
    conversations: int = 0
    messages: int = 0
    answered: int = 0
    abstained: int = 0
    feedback_up: int = 0
    feedback_down: int = 0
    leads: int = 0
    handoffs: int = 0
    bookings: int = 0
    payments: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_micros: int = 0  # model cost in millionths of COST_CURRENCY, at the configured prices
    unpriced_messages: int = 0  # answers by a model the price table does not list


COST_CURRENCY = "usd"
PRICES_ARE = (
    "configuration: the model price table (pk=MODELPRICES, seeded with list prices, editable); "
    "not fetched from the providers"
)


class ModelPrice(BaseModel):
    """A model's price as configured (editable data): millionths of a dollar per 1,000
    tokens in and out. Applied when an answer is counted."""

    model: str = Field(min_length=1)
    input_micros_per_1k: int = Field(ge=0)
    output_micros_per_1k: int = Field(ge=0)


class CostSummary(BaseModel):
    currency: str = COST_CURRENCY
    total_micros: int
    per_conversation_micros: float | None
    unpriced_messages: int
    prices: str = PRICES_ARE


class AskedQuestion(BaseModel):
    """A visitor question an answer was given to (or abstained on), filed under the day."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    text: str
    abstained: bool


class StatsDelta(BaseModel):
    """What one event adds to an agent's day."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    tenant_id: str
    agent_id: str
    day: str  # local date in the tenant's time zone
    counts: dict[str, int]
    revenue: tuple[str, int] | None = None  # (currency, minor units)
    question: AskedQuestion | None = None


class QuestionCount(BaseModel):
    question: str
    count: int


class QuestionGroup(BaseModel):
    """Unanswered questions alike enough to be one gap in the knowledge base."""

    question: str  # the most frequent wording
    count: int
    examples: list[str]


class Rollup(BaseModel):
    """An agent's day as the nightly job computed it."""

    day: str
    answer_rate: float | None
    feedback_rate: float | None
    satisfaction: float | None
    funnel: dict[str, int]
    conversion: dict[str, float | None]
    tokens_per_conversation: float | None
    cost_per_conversation_micros: float | None = None
    top_questions: list[QuestionCount]
    unanswered_questions: list[QuestionGroup]
    computed_at: str


class DayPoint(BaseModel):
    day: str
    counts: DayCounts
    revenue_minor: dict[str, int] = Field(default_factory=dict)
    answer_rate: float | None = None


class Series(BaseModel):
    agent_id: str
    time_zone: str
    start: str
    end: str
    days: list[DayPoint]


class Report(BaseModel):
    agent_id: str
    time_zone: str
    start: str
    end: str
    totals: DayCounts
    revenue_minor: dict[str, int]
    answer_rate: float | None
    feedback_rate: float | None
    satisfaction: float | None
    funnel: dict[str, int]
    conversion: dict[str, float | None]
    tokens_per_conversation: float | None
    cost_per_conversation_micros: float | None
    cost: CostSummary
    top_questions: list[QuestionCount]
    unanswered_questions: list[QuestionGroup]
    rolled_up_days: int


class AnalyticsSettingsUpdate(StrictInput):
    time_zone: str = Field(min_length=1, max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class AnalyticsSettings(BaseModel):
    time_zone: str = "UTC"


# ---------------------------------------------------------------------------- events we count


class AgentEventView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str


class MessageView(AgentEventView):
    conversation_id: str | None = None
    question_id: str | None = None
    model: str | None = None
    abstained: bool
    tokens_in: int = Field(ge=0)
    tokens_out: int = Field(ge=0)


class FeedbackView(AgentEventView):
    rating: str


class PaymentView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str | None = None
    amount_minor: int = Field(ge=0)
    currency: str
    refunded_minor: int = Field(default=0, ge=0)
