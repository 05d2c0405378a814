"""Payments' API and domain models, and its events (typed, versioned payloads).

Amounts are integers in the currency's minor unit (cents; yen for JPY) with an ISO currency
code in lower case, as Stripe takes them: never floats.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from agenthub.events import DomainEvent, EventData
from agenthub.models import ID_PATTERN, StrictInput

CURRENCY = re.compile(r"^[a-z]{3}$")
# Stripe's ceiling for one charge in most currencies is 99,999,999 minor units.
MAX_AMOUNT_MINOR = 99_999_999
MIN_AMOUNT_MINOR = 50  # Stripe's minimum charge is about 0.50 in most currencies
DESCRIPTION_MAX = 200

ConnectionMode = Literal["restricted_key", "connect"]
PaymentKind = Literal["booking", "one_off", "link"]
PaymentStatus = Literal[
    "open", "processing", "succeeded", "failed", "expired", "refunded", "partially_refunded"
]
# Booking payments: what became of the booking once the money arrived.
BookingOutcome = Literal["awaiting_payment", "confirmed", "released", "refunded_slot_taken"]


class Money(StrictInput):
    amount_minor: int = Field(ge=MIN_AMOUNT_MINOR, le=MAX_AMOUNT_MINOR, strict=True)
    currency: str = Field(min_length=3, max_length=3)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        value = value.lower()
        if not CURRENCY.match(value):
            raise ValueError("currency is a three-letter ISO code like 'eur'")
        return value


# ---------------------------------------------------------------------------- connection


class ConnectionCreate(StrictInput):
    """Connect the tenant's Stripe account: a restricted key of the tenant's own account, or
    the id of an account connected to the platform (Stripe Connect). Exactly one."""

    restricted_key: str | None = Field(default=None, min_length=20, max_length=255)
    account_id: str | None = Field(default=None, pattern=r"^acct_[A-Za-z0-9]{6,64}$")

    @field_validator("restricted_key")
    @classmethod
    def _restricted(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith(("sk_live_", "sk_test_")):
            raise ValueError(
                "use a restricted key (rk_...) with only the permissions AgentHub needs, "
                "not your account's secret key"
            )
        if not value.startswith(("rk_live_", "rk_test_")):
            raise ValueError("a restricted key starts with rk_live_ or rk_test_")
        return value

    @model_validator(mode="after")
    def _one(self) -> ConnectionCreate:
        if (self.restricted_key is None) == (self.account_id is None):
            raise ValueError("give either restricted_key or account_id")
        return self


class Connection(BaseModel):
    """What is stored and shown about a tenant's Stripe connection: never the key."""

    tenant_id: str
    mode: ConnectionMode
    account_id: str | None = None  # Connect mode
    livemode: bool
    webhook_endpoint_id: str | None = None  # restricted-key mode: the endpoint we created
    connected_at: str
    version: int = 1

    def public(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"tenant_id", "version"})


# ---------------------------------------------------------------------------- payments


class PaymentRequestCreate(StrictInput):
    """A payment an agent sends in a conversation: an amount with a description, or a price
    of the tenant's Stripe catalogue. ``reusable`` makes a Stripe Payment Link (paid any number
    of times); otherwise a one-off Checkout Session (paid once, expires in 24 h)."""

    agent_id: str = Field(pattern=r"^ag_[0-9a-f]{16}$")
    conversation_id: str | None = Field(default=None, pattern=ID_PATTERN)
    amount: Money | None = None
    description: str | None = Field(default=None, min_length=1, max_length=DESCRIPTION_MAX)
    price_id: str | None = Field(default=None, pattern=r"^price_[A-Za-z0-9]{6,64}$")
    quantity: int = Field(default=1, ge=1, le=100, strict=True)
    reusable: bool = False
    success_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")

    @model_validator(mode="after")
    def _what(self) -> PaymentRequestCreate:
        if (self.amount is None) == (self.price_id is None):
            raise ValueError("give either amount (with description) or price_id")
        if self.amount is not None and not self.description:
            raise ValueError("an amount needs a description the payer will see")
        return self


class RefundCreate(StrictInput):
    """A refund the tenant asks for; without an amount, everything not yet refunded."""

    amount_minor: int | None = Field(default=None, ge=1, le=MAX_AMOUNT_MINOR, strict=True)
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"] = "requested_by_customer"


class BookingCheckoutCreate(StrictInput):
    """The widget's pay step for a held booking (the visitor's token proves the booking is
    theirs)."""

    visitor_token: str = Field(min_length=10, max_length=2000)


# What the widget tells the visitor (the payment view carries it; the widget shows it as is).
VISITOR_MESSAGES = {
    "confirmed": "Payment received: your booking is confirmed.",
    "refunded_slot_taken": (
        "Your payment arrived after this time was booked by someone else. It has been "
        "refunded in full; please choose another time."
    ),
    "released": "The time you held has been released because no payment arrived.",
    "failed": "The payment did not go through. Please try again.",
}


class PaymentView(BaseModel):
    """A payment as the API shows it."""

    id: str
    kind: PaymentKind
    status: PaymentStatus
    amount_minor: int
    currency: str
    description: str = ""
    agent_id: str | None = None
    conversation_id: str | None = None
    booking_id: str | None = None
    booking_outcome: BookingOutcome | None = None
    hold_expires_at: str | None = None
    link_id: str | None = None
    checkout_session_id: str | None = None
    checkout_url: str | None = None
    payment_intent_id: str | None = None
    refunded_minor: int = 0
    failure_reason: str | None = None
    created_at: str
    updated_at: str
    version: int = 1


class VisitorPayment(BaseModel):
    """What the widget shows of a payment: status and amount, no Stripe ids."""

    payment_id: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    description: str
    checkout_url: str | None = Field(description="while the payment is open: where to pay")
    booking_outcome: BookingOutcome | None
    message: str | None = Field(description="what to tell the visitor, as is")


class Payment(PaymentView):
    """A payment as stored: also its tenant."""

    tenant_id: str

    def public(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"tenant_id"})

    def for_visitor(self) -> dict[str, object]:
        view = VisitorPayment(
            payment_id=self.id,
            status=self.status,
            amount_minor=self.amount_minor,
            currency=self.currency,
            description=self.description,
            checkout_url=self.checkout_url if self.status == "open" else None,
            booking_outcome=self.booking_outcome,
            message=VISITOR_MESSAGES.get(self.booking_outcome or self.status),
        )
        return view.model_dump(mode="json")


class PaymentLinkView(BaseModel):
    """A reusable Stripe Payment Link an agent can share."""

    id: str
    agent_id: str
    conversation_id: str | None = None
    stripe_link_id: str
    url: str
    amount_minor: int
    currency: str
    description: str
    active: bool = True
    created_at: str


class PaymentLink(PaymentLinkView):
    """A payment link as stored: also its tenant."""

    tenant_id: str

    def public(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"tenant_id"})


class PaymentRequestAnswer(BaseModel):
    """A payment request's answer: ``payment`` (a one-off checkout) or ``payment_link``
    (reusable), never both."""

    payment: PaymentView | None = None
    payment_link: PaymentLinkView | None = None


class WebhookReceipt(BaseModel):
    received: bool
    result: Literal["queued", "ignored"] = Field(
        description="queued: processed shortly; ignored: not an event AgentHub acts on"
    )


# ---------------------------------------------------------------------------- events


class PaymentData(EventData):
    payment_id: str
    kind: PaymentKind
    amount_minor: int
    currency: str
    agent_id: str | None = None
    booking_id: str | None = None
    link_id: str | None = None


class PaymentFailedData(PaymentData):
    reason: str


class PaymentRefundedData(PaymentData):
    refund_id: str
    refunded_minor: int  # this refund
    total_refunded_minor: int
    reason: str  # requested_by_customer | booking_cancelled | slot_taken | ...


class ConnectionData(EventData):
    mode: ConnectionMode
    livemode: bool


class PaymentEvent(DomainEvent):
    source = "agenthub.payments"


class PaymentSucceeded(PaymentEvent):
    detail_type = "PaymentSucceeded"
    data: PaymentData


class PaymentFailed(PaymentEvent):
    detail_type = "PaymentFailed"
    data: PaymentFailedData


class PaymentRefunded(PaymentEvent):
    detail_type = "PaymentRefunded"
    data: PaymentRefundedData


class StripeConnected(PaymentEvent):
    detail_type = "StripeConnected"
    data: ConnectionData


class StripeDisconnected(PaymentEvent):
    detail_type = "StripeDisconnected"
    data: ConnectionData
