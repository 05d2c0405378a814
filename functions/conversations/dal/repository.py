"""Conversations persistence: the only module of this domain that touches DynamoDB.

A message costs two calls here: ``read_turn`` (one BatchGetItem: the conversation's header and
state, the shared cached answer, the rate counters) and ``record_turn`` (one TransactWriteItems:
both messages, the state, the counters, the cache entry and the events, all or nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from agenthub import keys, outbox
from agenthub.errors import Conflict, NotFound, is_condition_failure
from agenthub.events import DomainEvent
from agenthub.table import TableItem, delete_partition
from conversations.dal.items import (
    AnswerCacheItem,
    ConversationItem,
    ConversationStateItem,
    IdentitySecretItem,
    MessageItem,
    RateCounterItem,
)
from conversations.models import (
    CachedAnswer,
    CitationView,
    Conversation,
    ConversationFilters,
    Feedback,
    HandoffState,
    IdentitySecret,
    Lead,
    Message,
)

# gsi1 pages read per list request at most: a very selective filter returns fewer items (and a
# cursor) rather than reading a tenant's whole history in one request.
MAX_LIST_PAGES = 5
_LIST_KEY_NAMES = ("pk", "sk", "gsi1pk", "gsi1sk")
_EPOCH = datetime.fromtimestamp(0, UTC)


class CounterFull(Exception):
    """A rate counter's window is used up (raised by ``record_turn``)."""

    def __init__(self, counter: CounterUse) -> None:
        super().__init__(f"rate counter {counter.subject} is full")
        self.counter = counter


@dataclass(frozen=True)
class CounterUse:
    """One request counted against ``limit`` in the window starting at ``window_start``.

    ``subject`` is who is counted: the agent (``subject_id`` None), a visitor of the agent,
    a client address (a digest of it) calling the agent, or a publishable key; ``action`` what
    is counted ("messages" or "starts" of conversations). With ``quota_period``, the
    tenant's message quota of that billing period (``subject`` "tenant")."""

    tenant_id: str
    agent_id: str
    subject: str  # "agent" | "visitor" | "client" | "key"
    subject_id: str | None
    window_start: int
    limit: int
    expires_at: datetime
    action: str = "messages"
    quota_period: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        if self.quota_period is not None:
            return keys.message_quota_pk(self.tenant_id), keys.quota_period_sk(self.quota_period)
        if self.subject == "agent":
            pk = keys.agent_rate_pk(self.tenant_id, self.agent_id)
        elif self.subject == "visitor" and self.action == "messages":
            pk = keys.visitor_rate_pk(self.tenant_id, self.agent_id, str(self.subject_id))
        else:
            pk = keys.rate_pk(
                self.tenant_id, self.agent_id, f"{self.subject}-{self.action}", str(self.subject_id)
            )
        return pk, keys.rate_window_sk(self.window_start)


@dataclass(frozen=True)
class AnswerCacheKey:
    """Where the shared answer cache keeps the answer ``digest`` of an agent."""

    tenant_id: str
    agent_id: str
    digest: str

    @property
    def pk(self) -> str:
        return keys.answer_pk(self.tenant_id, self.agent_id, self.digest)


@dataclass(frozen=True)
class CacheEntry:
    key: AnswerCacheKey
    answer: CachedAnswer
    created_at: str
    expires_at: datetime


@dataclass
class TurnReads:
    """What one BatchGetItem found for a message."""

    conversation: Conversation | None
    cached: CacheEntry | None
    counts: dict[str, int] = field(default_factory=dict)  # by counter subject
    message: Message | None = None


# ---------------------------------------------------------------------------- models


def _conversation(header: ConversationItem, state: ConversationStateItem | None) -> Conversation:
    return Conversation(
        id=header.conversation_id,
        tenant_id=header.tenant_id,
        agent_id=header.agent_id,
        visitor_id=header.visitor_id,
        verified=bool(header.verified),
        channel=header.channel,
        started_at=header.started_at,
        unanswered=bool(header.unanswered),
        lead=Lead(**header.lead) if header.lead else None,
        handoff_requested_at=header.handoff_requested_at,
        handoff_reason=header.handoff_reason,
        handoff_state=_handoff_state(header),
        message_count=int(state.message_count) if state else 0,
        last_message_at=state.last_message_at if state else None,
        history=list(state.history or []) if state else [],
        state_version=int(state.version) if state else 1,
    )


def _handoff_state(header: ConversationItem) -> HandoffState | None:
    if header.handoff_requested_at is None:
        return None
    return HandoffState(
        # asked for before handoffs had a status: still waiting for a person
        status=header.handoff_status or "requested",
        requested_at=header.handoff_requested_at,
        changed_at=header.handoff_changed_at or header.handoff_requested_at,
        operator=header.handoff_operator,
        emailed=list(header.handoff_emailed or []),
    )


def _message(item: MessageItem) -> Message:
    return Message(
        id=item.message_id,
        conversation_id=item.conversation_id,
        role=item.role,
        text=item.text,
        created_at=item.created_at,
        status=item.status,
        citations=[CitationView(**c) for c in item.citations or []],
        abstained=bool(item.abstained),
        cached=bool(item.cached),
        model=item.model,
        tokens_in=int(item.tokens_in or 0),
        tokens_out=int(item.tokens_out or 0),
        latency_ms=int(item.latency_ms) if item.latency_ms is not None else None,
        feedback=Feedback(**item.feedback) if item.feedback else None,
        author=item.author,
        kind=item.kind,
        context=item.context,
    )


def message_item(tenant_id: str, message: Message) -> MessageItem:
    """A message as stored (also for the handoff dal, which writes replies and notes)."""
    return MessageItem(
        pk=keys.conversation_pk(tenant_id, message.conversation_id),
        sk=keys.message_sk(message.id),
        conversation_id=message.conversation_id,
        message_id=message.id,
        role=message.role,
        text=message.text,
        status=message.status,
        created_at=message.created_at,
        citations=[c.model_dump(mode="json") for c in message.citations] or None,
        abstained=message.abstained,
        cached=message.cached,
        model=message.model,
        tokens_in=message.tokens_in,
        tokens_out=message.tokens_out,
        latency_ms=message.latency_ms,
        author=message.author,
        kind=message.kind,
        context=message.context,
    )


# ---------------------------------------------------------------------------- conversations


def start(
    conversation: Conversation,
    events: Sequence[DomainEvent],
    requires: Sequence[outbox.Required] = (),
    counters: Sequence[CounterUse] = (),
) -> None:
    """Store a new conversation (header and state) and its events in one transaction, if
    every item ``requires`` names (the agent) still exists and every counter is below its
    limit (CounterFull when one is not: no read first, a start costs one call)."""
    pk = keys.conversation_pk(conversation.tenant_id, conversation.id)
    header = ConversationItem(
        pk=pk,
        sk=keys.CONVERSATION_SK,
        gsi1pk=keys.conversations_gsi1pk(conversation.tenant_id),
        gsi1sk=keys.conversations_gsi1sk(conversation.started_at, conversation.id),
        tenant_id=conversation.tenant_id,
        conversation_id=conversation.id,
        agent_id=conversation.agent_id,
        visitor_id=conversation.visitor_id,
        verified=conversation.verified,
        channel=conversation.channel,
        started_at=conversation.started_at,
    )
    state = ConversationStateItem(pk=pk, sk=keys.CONVERSATION_STATE_SK, history=[])

    def build(t: TransactWrite) -> None:
        t.save(header, condition=ConversationItem.pk.does_not_exist())
        t.save(state, condition=ConversationStateItem.pk.does_not_exist())
        for counter in counters:
            _count(t, counter)

    try:
        outbox.write(build, events, requires=requires)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise
        _counter_failed(exc, counters)
        raise Conflict("conversation id collision, retry") from exc


def get_conversation(tenant_id: str, conversation_id: str) -> Conversation | None:
    """Header and state (one BatchGetItem), or None."""
    return read_turn(tenant_id, conversation_id).conversation


def get_message(tenant_id: str, conversation_id: str, message_id: str) -> Message | None:
    try:
        item = MessageItem.get(
            keys.conversation_pk(tenant_id, conversation_id), keys.message_sk(message_id)
        )
    except DoesNotExist:
        return None
    return _message(item)


def get_with_messages(
    tenant_id: str, conversation_id: str
) -> tuple[Conversation | None, list[Message]]:
    """The whole conversation partition (header, messages oldest first, state): one Query
    (more pages only for a long conversation)."""
    header: ConversationItem | None = None
    state: ConversationStateItem | None = None
    messages: list[Message] = []
    for item in TableItem.query(keys.conversation_pk(tenant_id, conversation_id)):
        if isinstance(item, ConversationItem):
            header = item
        elif isinstance(item, ConversationStateItem):
            state = item
        elif isinstance(item, MessageItem):
            messages.append(_message(item))
    if header is None:
        return None, []
    return _conversation(header, state), messages


def messages_after(tenant_id: str, conversation_id: str, after: str) -> list[Message]:
    """The conversation's messages newer than message ``after`` (one Query), oldest first:
    what a widget that has seen ``after`` is missing."""
    return [
        _message(item)
        for item in MessageItem.query(
            keys.conversation_pk(tenant_id, conversation_id),
            MessageItem.sk.between(
                keys.message_sk(after) + "\x00", keys.MESSAGE_SK_PREFIX + "\uffff"
            ),
        )
        if isinstance(item, MessageItem)
    ]


def read_turn(
    tenant_id: str,
    conversation_id: str,
    *,
    cache_key: AnswerCacheKey | None = None,
    counters: Iterable[CounterUse] = (),
    message_id: str | None = None,
) -> TurnReads:
    """One consistent BatchGetItem: the conversation (header + state), and as asked the shared
    cached answer, the rate counters' current windows and one message."""
    pk = keys.conversation_pk(tenant_id, conversation_id)
    wanted = [(pk, keys.CONVERSATION_SK), (pk, keys.CONVERSATION_STATE_SK)]
    if cache_key:
        wanted.append((cache_key.pk, keys.ANSWER_SK))
    counters = list(counters)
    wanted += [c.key for c in counters]
    if message_id:
        wanted.append((pk, keys.message_sk(message_id)))
    found = {(i.pk, i.sk): i for i in TableItem.batch_get(wanted, consistent_read=True)}
    header = found.get((pk, keys.CONVERSATION_SK))
    state = found.get((pk, keys.CONVERSATION_STATE_SK))
    reads = TurnReads(
        conversation=(
            _conversation(header, state if isinstance(state, ConversationStateItem) else None)
            if isinstance(header, ConversationItem)
            else None
        ),
        cached=None,
    )
    cached = found.get((cache_key.pk, keys.ANSWER_SK)) if cache_key else None
    # TTL deletes expired items only eventually: an expired entry is a miss.
    if isinstance(cached, AnswerCacheItem) and (cached.expires_at or _EPOCH) > datetime.now(UTC):
        assert cache_key is not None
        reads.cached = CacheEntry(
            key=cache_key,
            answer=CachedAnswer.model_validate(cached.answer),
            created_at=cached.created_at,
            expires_at=cached.expires_at,
        )
    for counter in counters:
        item = found.get(counter.key)
        reads.counts[counter.subject] = int(item.hits) if isinstance(item, RateCounterItem) else 0
    if message_id:
        item = found.get((pk, keys.message_sk(message_id)))
        reads.message = _message(item) if isinstance(item, MessageItem) else None
    return reads


def _count(t: TransactWrite, counter: CounterUse) -> None:
    """Count one use, on the condition that the window is not used up yet."""
    counter_pk, counter_sk = counter.key
    t.update(
        RateCounterItem(pk=counter_pk, sk=counter_sk),
        actions=[
            RateCounterItem.entity.set(RateCounterItem),
            RateCounterItem.hits.add(1),
            RateCounterItem.expires_at.set(counter.expires_at),
        ],
        condition=RateCounterItem.hits.does_not_exist() | (RateCounterItem.hits < counter.limit),
    )


def _counter_failed(exc: TransactWriteError, counters: Iterable[CounterUse]) -> None:
    """Raise CounterFull for the first of ``counters`` whose condition failed in ``exc``."""
    failed = outbox.failed_keys(exc)
    for counter in counters:
        if counter.key in failed:
            raise CounterFull(counter) from exc


def record_turn(
    conversation: Conversation,
    *,
    user: Message,
    assistant: Message | None,
    history: list[dict[str, str]],
    mark_unanswered: bool,
    counters: Sequence[CounterUse],
    cache: CacheEntry | None,
    events: Sequence[DomainEvent],
    held: bool = False,
    requires: Sequence[outbox.Required] = (),
) -> None:
    """Store a turn in one transaction: the visitor's message, the answer (None when the
    provider failed: the question alone is kept), the new state (only if no other message
    changed it meanwhile), the counters (only below their limits), the shared cache entry and
    the events, on the condition that every item ``requires`` names still exists (the agent).
    ``held``: a person holds the conversation (the question is theirs, there is no answer) and
    must still hold it when this is written. Raises CounterFull (a window is used up),
    Conflict (a concurrent message, or the person let go meanwhile) or the missing
    requirement's error."""
    tenant_id = conversation.tenant_id
    pk = keys.conversation_pk(tenant_id, conversation.id)
    stored = [user] + ([assistant] if assistant else [])
    state = ConversationStateItem(pk=pk, sk=keys.CONVERSATION_STATE_SK)
    state_actions: list[Action] = [
        ConversationStateItem.entity.set(ConversationStateItem),
        ConversationStateItem.message_count.set(conversation.message_count + len(stored)),
        ConversationStateItem.last_message_at.set(stored[-1].created_at),
        ConversationStateItem.history.set(history),
        ConversationStateItem.version.set(conversation.state_version + 1),
    ]

    def build(t: TransactWrite) -> None:
        for message in stored:
            t.save(message_item(tenant_id, message), condition=MessageItem.pk.does_not_exist())
        t.update(
            state,
            actions=state_actions,
            condition=ConversationStateItem.version == conversation.state_version,
        )
        if held:
            t.condition_check(
                ConversationItem,
                pk,
                keys.CONVERSATION_SK,
                condition=ConversationItem.handoff_status == "held",
            )
        if mark_unanswered:
            header = ConversationItem(pk=pk, sk=keys.CONVERSATION_SK)
            t.update(
                header,
                actions=[ConversationItem.unanswered.set(True)],
                condition=ConversationItem.pk.exists(),
            )
        for counter in counters:
            _count(t, counter)
        if cache is not None:
            t.save(
                AnswerCacheItem(
                    pk=cache.key.pk,
                    sk=keys.ANSWER_SK,
                    answer=cache.answer.model_dump(mode="json"),
                    created_at=cache.created_at,
                    expires_at=cache.expires_at,
                )
            )

    try:
        outbox.write(build, events, requires=requires)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise
        # By item identity: pynamodb sends puts before updates, whatever the order above.
        _counter_failed(exc, counters)
        raise Conflict(
            "another message of this conversation was answered meanwhile; send it again"
        ) from exc


def set_feedback(
    tenant_id: str,
    conversation_id: str,
    message_id: str,
    feedback: Feedback,
    events: Sequence[DomainEvent],
    requires: Sequence[outbox.Required] = (),
) -> None:
    """Rate an answer (only an existing assistant message: the condition says so)."""
    item = MessageItem(
        pk=keys.conversation_pk(tenant_id, conversation_id), sk=keys.message_sk(message_id)
    )
    outbox.write(
        lambda t: t.update(
            item,
            actions=[MessageItem.feedback.set(feedback.model_dump(mode="json"))],
            condition=MessageItem.pk.exists() & (MessageItem.role == "assistant"),
        ),
        events,
        on_condition_failure=NotFound("message not found"),
        requires=requires,
    )


def set_lead(
    tenant_id: str,
    conversation_id: str,
    lead: Lead,
    note: Message,
    events: Sequence[DomainEvent],
    requires: Sequence[outbox.Required] = (),
) -> None:
    """The visitor's contact details on the header, and the note saying so in the messages."""
    header = ConversationItem(
        pk=keys.conversation_pk(tenant_id, conversation_id), sk=keys.CONVERSATION_SK
    )

    def build(t: TransactWrite) -> None:
        t.update(
            header,
            actions=[
                ConversationItem.lead.set(lead.model_dump(mode="json")),
                ConversationItem.has_lead.set(True),
            ],
            condition=ConversationItem.pk.exists(),
        )
        t.save(message_item(tenant_id, note), condition=MessageItem.pk.does_not_exist())

    outbox.write(
        build, events, on_condition_failure=NotFound("conversation not found"), requires=requires
    )


def list_page(
    tenant_id: str,
    filters: ConversationFilters,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[Conversation], dict[str, Any] | None]:
    """A tenant's conversations, newest first, filtered on the server.

    Honest paging: the cursor is where reading stopped — after the last item returned when
    the page filled up mid-way, else DynamoDB's own last evaluated key — so no conversation
    is skipped or repeated across pages, whatever the filters drop. At most MAX_LIST_PAGES
    index pages are read per call (a selective filter may return a short page and a cursor)."""
    # gsi1sk is "<started_at>#<id>": "#~" sorts after every id of the last instant
    high = f"{filters.started_to}#~" if filters.started_to else None
    condition: Condition | None = None
    if filters.started_from and high:
        condition = ConversationItem.gsi1sk.between(filters.started_from, high)
    elif filters.started_from:
        condition = ConversationItem.gsi1sk >= filters.started_from
    elif high:
        condition = ConversationItem.gsi1sk <= high
    filter_condition = None
    for attribute, value in (
        (ConversationItem.agent_id, filters.agent_id),
        (ConversationItem.unanswered, filters.unanswered),
        (ConversationItem.has_lead, filters.has_lead),
        (ConversationItem.handoff, filters.handoff),
    ):
        if value is not None:
            term = attribute == value
            filter_condition = term if filter_condition is None else filter_condition & term
    result = ConversationItem.gsi1.query(
        keys.conversations_gsi1pk(tenant_id),
        condition,
        filter_condition=filter_condition,
        scan_index_forward=False,
        page_size=max(limit, 25),
        last_evaluated_key=start_key,
    )
    pages = result.page_iter
    found: list[Conversation] = []
    last_key: dict[str, Any] | None = start_key
    for _ in range(MAX_LIST_PAGES):
        page = next(pages)
        raw_items = page.get("Items", [])
        for position, raw in enumerate(raw_items):
            found.append(_conversation(ConversationItem.from_raw_data(raw), None))
            if len(found) == limit:
                more = position < len(raw_items) - 1 or pages.last_evaluated_key is not None
                return found, ({k: raw[k] for k in _LIST_KEY_NAMES} if more else None)
        last_key = pages.last_evaluated_key
        if last_key is None:
            break
    return found, last_key


# ---------------------------------------------------------------------------- identity secret


def get_identity_secret(tenant_id: str, agent_id: str) -> IdentitySecret | None:
    try:
        item = IdentitySecretItem.get(keys.tenant_pk(tenant_id), keys.identity_secret_sk(agent_id))
    except DoesNotExist:
        return None
    return IdentitySecret(
        agent_id=item.agent_id,
        tenant_id=item.tenant_id,
        secret=item.secret,
        created_at=item.created_at,
        previous_secret=item.previous_secret,
        previous_valid_until=item.previous_valid_until,
    )


def put_identity_secret(secret: IdentitySecret, events: Sequence[DomainEvent]) -> None:
    item = IdentitySecretItem(
        pk=keys.tenant_pk(secret.tenant_id),
        sk=keys.identity_secret_sk(secret.agent_id),
        **secret.model_dump(),
    )
    outbox.write(lambda t: t.save(item), events)


# ---------------------------------------------------------------------------- a deleted agent


def delete_agent_conversations(tenant_id: str, agent_id: str) -> int:
    """Delete every conversation of the agent (header, state, messages, lead) and its identity
    secret; the number of conversations. Idempotent (a re-run finds what is left)."""
    deleted = 0
    found = ConversationItem.gsi1.query(
        keys.conversations_gsi1pk(tenant_id),
        filter_condition=ConversationItem.agent_id == agent_id,
    )
    for header in found:
        delete_partition(keys.conversation_pk(tenant_id, header.conversation_id))
        deleted += 1
    IdentitySecretItem(keys.tenant_pk(tenant_id), keys.identity_secret_sk(agent_id)).delete()
    return deleted
