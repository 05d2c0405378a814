"""pynamodb items of the conversations domain (stay inside dal/)."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from agenthub.table import TableItem


class ConversationItem(TableItem, discriminator="conversation"):
    """The header: in the tenant's time-ordered list (gsi1), rewritten only when a flag
    changes, so message traffic never touches the index."""

    tenant_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    visitor_id = UnicodeAttribute()
    verified = BooleanAttribute(default=False)
    channel = UnicodeAttribute()
    started_at = UnicodeAttribute()
    unanswered = BooleanAttribute(default=False)
    has_lead = BooleanAttribute(default=False)
    lead = JSONAttribute(null=True)
    handoff = BooleanAttribute(default=False)
    handoff_requested_at = UnicodeAttribute(null=True)
    handoff_reason = UnicodeAttribute(null=True)
    # the handoff now (conditions check handoff_status: one transition at a time)
    handoff_status = UnicodeAttribute(null=True)
    handoff_changed_at = UnicodeAttribute(null=True)
    handoff_operator = UnicodeAttribute(null=True)
    handoff_emailed = ListAttribute(of=UnicodeAttribute, null=True)


class ConversationStateItem(TableItem, discriminator="conversation_state"):
    """The rolling state, rewritten by every message under an optimistic lock (``version``):
    the count, the time of the last message and the history window the next answer reads."""

    message_count = NumberAttribute(default=0)
    last_message_at = UnicodeAttribute(null=True)
    history = JSONAttribute(default=list)


class MessageItem(TableItem, discriminator="message"):
    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    role = UnicodeAttribute()
    text = UnicodeAttribute()
    status = UnicodeAttribute(default="answered")
    created_at = UnicodeAttribute()
    citations = JSONAttribute(null=True)
    abstained = BooleanAttribute(default=False)
    cached = BooleanAttribute(default=False)
    model = UnicodeAttribute(null=True)
    tokens_in = NumberAttribute(default=0)
    tokens_out = NumberAttribute(default=0)
    latency_ms = NumberAttribute(null=True)
    feedback = JSONAttribute(null=True)
    author = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(null=True)
    context = JSONAttribute(null=True)


class HandoffItem(TableItem, discriminator="handoff"):
    """An open handoff, in the tenant's list of them (gsi1, oldest first); deleted when the
    handoff closes. The header has the same status: both change in one transaction."""

    tenant_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    status = UnicodeAttribute()
    requested_at = UnicodeAttribute()
    changed_at = UnicodeAttribute()
    operator = UnicodeAttribute(null=True)


class ConnectionItem(TableItem, discriminator="connection"):
    """A visitor's WebSocket connection following the conversation; removed by TTL (the
    WebSocket API closes connections after two hours) or when a push finds it gone."""

    connection_id = UnicodeAttribute()
    connected_at = UnicodeAttribute()


class AnswerCacheItem(TableItem, discriminator="answer_cache"):
    """A shared cached answer (L2); DynamoDB's TTL removes it, reads also check the time."""

    answer = JSONAttribute()
    created_at = UnicodeAttribute()


class RateCounterItem(TableItem, discriminator="rate_counter"):
    """Requests of one subject (a visitor, an agent) in one fixed window; TTL removes it."""

    hits = NumberAttribute(default=0)


class IdentitySecretItem(TableItem, discriminator="identity_secret"):
    tenant_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    secret = UnicodeAttribute()
    created_at = UnicodeAttribute()
    previous_secret = UnicodeAttribute(null=True)
    previous_valid_until = UnicodeAttribute(null=True)
