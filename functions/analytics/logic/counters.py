"""Near-real-time counters per agent and local day, fed by domain events (bus →
AnalyticsRule → AnalyticsEventsQueue), idempotent on the event id. The day is the tenant's
local date (its analytics time zone, cached per environment for 5 minutes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.events import DeliveredEvent
from agenthub.observability import logger
from analytics.dal import repository
from analytics.logic.prices import cost_micros
from analytics.models import (
    UNATTRIBUTED,
    AgentEventView,
    AnalyticsSettings,
    AskedQuestion,
    FeedbackView,
    MessageView,
    PaymentView,
    StatsDelta,
)
from conversations.logic import question_text

KEEP_EVENT_IDS = timedelta(days=40)
QUESTION_CHARS = 500  # what the rollup keeps of a question
_settings: TTLCache[AnalyticsSettings] = ttl_cache(300, max_entries=4096)


def tenant_settings(tenant_id: str) -> AnalyticsSettings:
    found = _settings.get(tenant_id)
    if found is None:
        found = repository.get_settings(tenant_id)
        _settings.set(tenant_id, found)
    return found


def set_time_zone(tenant_id: str, time_zone: str) -> AnalyticsSettings:
    """Days are counted in this zone from now on (days already counted keep theirs)."""
    settings = AnalyticsSettings(time_zone=time_zone)
    repository.put_settings(tenant_id, settings)
    _settings.set(tenant_id, settings)
    return settings


def local_day(occurred_at: str, time_zone: str) -> str:
    moment = datetime.fromisoformat(occurred_at.replace("Z", "+00:00")).astimezone(UTC)
    return moment.astimezone(ZoneInfo(time_zone)).date().isoformat()


# Events that add one to a counter of their agent.
ONE_EACH = {
    "ConversationStarted": "conversations",
    "LeadCaptured": "leads",
    "HandoffRequested": "handoffs",
    "BookingConfirmed": "bookings",
}
Added = tuple[str, dict[str, int], tuple[str, int] | None]
QuestionLookup = Callable[[str, str, str], str | None]  # (tenant, conversation, message) → text


def _counts(event: DeliveredEvent) -> Added | None:
    """(agent id, counters, revenue) an event adds; None for a type analytics ignores."""
    kind = event.type
    if kind in ONE_EACH:
        return event.view(AgentEventView).agent_id, {ONE_EACH[kind]: 1}, None
    if kind == "MessageAnswered":
        message = event.view(MessageView)
        counts = {
            "messages": 1,
            "answered": int(not message.abstained),
            "abstained": int(message.abstained),
            "tokens_in": message.tokens_in,
            "tokens_out": message.tokens_out,
        }
        cost = cost_micros(message.model, message.tokens_in, message.tokens_out)
        if cost is None:
            counts["unpriced_messages"] = 1
        else:
            counts["cost_micros"] = cost
        return message.agent_id, counts, None
    if kind == "FeedbackReceived":
        feedback = event.view(FeedbackView)
        name = "feedback_up" if feedback.rating == "up" else "feedback_down"
        return feedback.agent_id, {name: 1}, None
    if kind in ("PaymentSucceeded", "PaymentRefunded"):
        return _payment(event)
    return None


def _payment(event: DeliveredEvent) -> Added:
    payment = event.view(PaymentView)
    agent = payment.agent_id or UNATTRIBUTED
    if event.type == "PaymentSucceeded":
        return agent, {"payments": 1}, (payment.currency.lower(), payment.amount_minor)
    return agent, {}, (payment.currency.lower(), -payment.refunded_minor)


def _question(event: DeliveredEvent, lookup: QuestionLookup) -> AskedQuestion | None:
    """The visitor question a MessageAnswered answered, with its text (from the
    conversations domain: the event carries no visitor words, since events are archived)."""
    if event.type != "MessageAnswered":
        return None
    message = event.view(MessageView)
    if not (message.conversation_id and message.question_id):
        return None
    text = lookup(event.tenant_id, message.conversation_id, message.question_id)
    if text is None:
        return None  # the conversation was deleted meanwhile
    return AskedQuestion(
        message_id=message.question_id, text=text[:QUESTION_CHARS], abstained=message.abstained
    )


def delta_of(event: DeliveredEvent, lookup: QuestionLookup | None = None) -> StatsDelta | None:
    """What ``event`` adds to its agent's local day (None: analytics ignores this type)."""
    found = _counts(event)
    if found is None:
        return None
    agent_id, counts, revenue = found
    return StatsDelta(
        event_id=event.event_id,
        tenant_id=event.tenant_id,
        agent_id=agent_id,
        day=local_day(event.occurred_at, tenant_settings(event.tenant_id).time_zone),
        counts=counts,
        revenue=revenue,
        question=_question(event, lookup or question_text),
    )


def record(event: DeliveredEvent) -> bool:
    """Count ``event`` once; True when newly counted."""
    delta = delta_of(event)
    if delta is None:
        return False
    if not repository.apply(delta, datetime.now(UTC) + KEEP_EVENT_IDS):
        logger().info("duplicate delivery ignored", extra={"event_id": event.event_id})
        return False
    return True
