"""Billing models: plans, the tenant's billing account, the usage ledger, invoice previews,
the domain events billing publishes, and the views of other domains' events it counts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agenthub.events import DomainEvent, EventData
from agenthub.models import StrictInput

PlanId = Literal["free", "pro", "business"]
Enforcement = Literal["hard_stop", "overage"]
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

# What the ledger counts (one number each, per tenant/agent and day/period).
USAGE_METRICS = (
    "messages",
    "answered",
    "abstained",
    "tokens_in",
    "tokens_out",
    "documents_indexed",
    "pages_indexed",
    "characters_indexed",
    "embedding_tokens",
    "bookings",
    "payments",
    "storage_bytes",
)
QUOTA_METRIC = "messages"
WARNING_PERCENTS = (80, 100)


# ---------------------------------------------------------------------------- plans


class Plan(BaseModel):
    """A plan as stored in the table (editable data): a monthly fee, included quotas, and the
    price of a message beyond the included ones (None: no overage on this plan)."""

    model_config = ConfigDict(frozen=True)

    id: PlanId
    name: str = Field(min_length=1, max_length=40)
    currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    monthly_fee_minor: int = Field(ge=0)
    included_messages: int = Field(ge=0)
    included_pages: int = Field(ge=0)
    overage_message_minor: int | None = Field(default=None, ge=1)
    version: int = 1


class BillingAccountUpdate(StrictInput):
    plan_id: PlanId | None = None
    enforcement: Enforcement | None = None
    # the most overage a period may cost, in the plan's currency's minor units
    spend_cap_minor: int | None = Field(default=None, ge=0, le=100_000_000)
    billing_email: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )

    @field_validator("plan_id", "enforcement", "spend_cap_minor", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # left out keeps the current choice; an explicit null would store no plan at all
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class BillingAccount(BaseModel):
    """The tenant's choices: its plan, hard stop or overage with a spend cap, where warnings
    go; and its customer at the platform's Stripe account once usage was reported."""

    tenant_id: str
    plan_id: PlanId = "free"
    enforcement: Enforcement = "hard_stop"
    spend_cap_minor: int = 0
    billing_email: str | None = None
    stripe_customer_id: str | None = None
    version: int = 0  # 0: never stored (the defaults)
    updated_at: str | None = None


class MessageAllowance(BaseModel):
    """How many messages a tenant may send in a period: the message path's quota counter is
    refused at ``limit``."""

    model_config = ConfigDict(frozen=True)

    period: str
    limit: int
    included: int
    enforcement: Enforcement
    resets_at: str  # the next period's start (UTC, ISO 8601)


# ---------------------------------------------------------------------------- ledger


class UsageCounts(BaseModel):
    messages: int = 0
    answered: int = 0
    abstained: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    documents_indexed: int = 0
    pages_indexed: int = 0
    characters_indexed: int = 0
    embedding_tokens: int = 0
    bookings: int = 0
    payments: int = 0
    storage_bytes: int = 0  # net change of bytes of documents stored (negative: freed)


class StoredDocument(BaseModel):
    """A document's bytes in the bucket as an event tells them (None: it was deleted)."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    stored_bytes: int | None


class UsageDelta(BaseModel):
    """What one domain event adds to the ledger (an agent's, or the tenant's alone)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    tenant_id: str
    agent_id: str | None
    day: str  # UTC date of the event
    counts: dict[str, int]
    volume: tuple[str, int] | None = None  # (currency, minor units): payments less refunds
    document: StoredDocument | None = None  # storage: the ledger counts the change


class DayUsage(BaseModel):
    day: str
    counts: UsageCounts


class AgentUsage(BaseModel):
    agent_id: str
    counts: UsageCounts
    days: list[DayUsage] = Field(default_factory=list)


class UsageSummary(BaseModel):
    period: str
    period_start: str
    period_end: str
    plan: Plan
    enforcement: Enforcement
    spend_cap_minor: int
    totals: UsageCounts
    payment_volume_minor: dict[str, int]
    quota: dict[str, int | float]
    days: list[DayUsage]
    agents: list[AgentUsage]
    stored_bytes: int = 0  # bytes of documents stored now (the tenant's, or the agent's)


class InvoiceLine(BaseModel):
    description: str
    quantity: int
    unit_amount_minor: int
    amount_minor: int


class InvoicePreview(BaseModel):
    period: str
    currency: str
    plan_id: PlanId
    lines: list[InvoiceLine]
    subtotal_minor: int
    capped: bool  # overage was limited by the spend cap
    total_minor: int


class ReportedDay(BaseModel):
    """A tenant's day of usage, what Stripe was told of it, and a report in flight."""

    tenant_id: str
    day: str
    messages: int
    reported: int
    pending_identifier: str | None = None  # a report being sent: its meter event identifier
    pending_to: int | None = None  # and the count it brings Stripe to


class Reconciliation(BaseModel):
    tenant_id: str
    day: str
    ledger: int
    reported: int
    stripe: int
    corrected: int
    status: Literal["match", "corrected", "over_reported", "no_customer"]
    checked_at: str


# ---------------------------------------------------------------------------- events we publish


class UsageThresholdReachedData(EventData):
    period: str
    metric: Literal["messages"]
    percent: int
    used: int
    included: int
    enforcement: Enforcement


class UsageReportedData(EventData):
    day: str
    quantity: int
    identifier: str
    stripe_customer_id: str


class BillingAccountChangedData(EventData):
    plan_id: PlanId
    enforcement: Enforcement
    spend_cap_minor: int
    version: int


class BillingEvent(DomainEvent):
    source = "agenthub.billing"


class UsageThresholdReached(BillingEvent):
    detail_type = "UsageThresholdReached"
    data: UsageThresholdReachedData


class UsageReported(BillingEvent):
    detail_type = "UsageReported"
    data: UsageReportedData


class BillingAccountChanged(BillingEvent):
    detail_type = "BillingAccountChanged"
    data: BillingAccountChangedData


# ---------------------------------------------------------------------------- events we count
# (views of other domains' payloads: the fields billing counts; agenthub.events.DeliveredEvent
# carries them)


class MessageAnsweredView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str
    tokens_in: int = Field(ge=0)
    tokens_out: int = Field(ge=0)
    abstained: bool


class DocumentIndexedView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str
    document_id: str = ""
    pages: int = Field(ge=0)
    characters: int = Field(ge=0)
    embedding_tokens: int = Field(ge=0)
    stored_bytes: int = Field(default=0, ge=0)


class DocumentDeletedView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str
    document_id: str


class BookingConfirmedView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str


class PaymentView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str | None = None
    amount_minor: int = Field(ge=0)
    currency: str
    refunded_minor: int = Field(default=0, ge=0)
