"""A visitor's message and the agent's answer: guardrails, rate limits, the answer cache,
retrieval (knowledge, in process), generation (``answering``), and one write.

AWS calls per message in a warm environment: one BatchGetItem (conversation header and
state, the shared cached answer, the rate counters, the tenant's quota counter) and one
TransactWriteItems (both messages, the state, the counters, the cache entry, the
MessageAnswered event in the outbox) — on a cache miss and on a hit alike; the provider call
(Bedrock) on a miss only. A cold environment adds the agent (5-minute L1 cache), the index
pointer (10 s), the index artifacts (S3) and billing's allowance (account and plans, 30 s),
once.

When the provider cannot answer (ProviderUnavailable), the question is stored with status
"failed" (same transaction shape, no answer, no event) and the 503 with Retry-After goes back
to the visitor: nothing is half written.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agenthub.errors import Conflict
from agenthub.events import utc_now_iso
from agenthub.observability import logger
from agents.logic import agent_still_exists, get_agent
from billing.logic import message_allowance
from conversations.dal import repository
from conversations.logic import answer_cache, answering, rate_limits
from conversations.logic.service import Access, owned
from conversations.models import (
    MAX_MESSAGES_PER_CONVERSATION,
    CachedAnswer,
    CitationView,
    Conversation,
    Message,
    MessageAnswered,
    MessageAnsweredData,
)

# The history kept with the conversation for the next answer: the last HISTORY_TURNS
# messages, each cut to TURN_CHARS (answering applies its own, tighter window to prompts).
HISTORY_TURNS = 6
TURN_CHARS = 1200


@dataclass(frozen=True)
class MessagePolicy:
    """Per-deployment settings of the message path (built by the handler from settings)."""

    limits: rate_limits.Limits
    documents_bucket: str
    retrieval_k: int = 5
    cache_ttl_seconds: int = answer_cache.TTL_SECONDS
    embedder: Any = None


@dataclass(frozen=True)
class Exchange:
    question: Message
    answer: Message


class ConversationFull(Conflict):
    code = "conversation_full"


def new_message_id() -> str:
    """Time-ordered within a conversation (microseconds, then randomness)."""
    return f"msg_{time.time_ns() // 1000:014x}{secrets.token_hex(4)}"


def _history(conversation: Conversation) -> list[answering.Turn]:
    return [answering.Turn(t["role"], t["text"]) for t in conversation.history]  # type: ignore[arg-type]


def _next_history(conversation: Conversation, *turns: Message) -> list[dict[str, str]]:
    added = [{"role": m.role, "text": m.text[:TURN_CHARS]} for m in turns]
    return [*conversation.history, *added][-HISTORY_TURNS:]


def _citations(answer: answering.Answer) -> list[CitationView]:
    return [
        CitationView(
            index=c.index,
            document_id=c.document_id,
            chunk_id=c.chunk_id,
            title=c.title,
            source_url=c.source_url,
            file_name=c.file_name,
            heading_path=list(c.heading_path),
            page=c.page,
            snippet=c.snippet,
        )
        for c in answer.citations
    ]


def _metric(name: str) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from agenthub.observability import metrics

    metrics().add_metric(name=name, unit=MetricUnit.Count, value=1)


def post_message(
    access: Access, conversation_id: str, text: str, policy: MessagePolicy
) -> Exchange:
    """Answer ``text`` in the conversation; raises NotFound (not the caller's conversation),
    TooManyRequests (429, Retry-After), ConversationFull / Conflict (409) or
    ProviderUnavailable (503, Retry-After; the question is stored)."""
    started = time.perf_counter()
    question = text.strip()
    tenant_id, agent_id = access.tenant_id, access.agent_id
    agent = get_agent(tenant_id, agent_id)
    from knowledge.logic import index_version

    key = answer_cache.digest(index_version(tenant_id, agent_id), agent.version, question)
    local_key = (tenant_id, agent_id, key)
    # L1, then memcached when configured (which then replaces the DynamoDB cache item)
    local_entry = answer_cache.tiered().get(local_key)
    item_cache = not answer_cache.tiered().shared_enabled
    now = rate_limits.now()
    allowance = message_allowance(tenant_id)
    known = rate_limits.counters(
        tenant_id, agent_id, access.counted_as(access.visitor_id), policy.limits, now, allowance
    )

    reads = repository.read_turn(
        tenant_id,
        conversation_id,
        cache_key=(
            repository.AnswerCacheKey(tenant_id, agent_id, key)
            if item_cache and local_entry is None
            else None
        ),
        counters=known,
    )
    conversation = owned(reads.conversation, access)
    rate_limits.check(known, reads.counts, policy.limits, now)
    if conversation.message_count + 2 > MAX_MESSAGES_PER_CONVERSATION:
        raise ConversationFull(
            "this conversation has reached its length limit; start a new one",
            details={"max_messages": MAX_MESSAGES_PER_CONVERSATION},
        )
    counters = rate_limits.counters(
        tenant_id,
        agent_id,
        access.counted_as(conversation.visitor_id),
        policy.limits,
        now,
        allowance,
    )
    history = _history(conversation)
    search_query = answering.retrieval_query(question, history)
    user = Message(
        id=new_message_id(),
        conversation_id=conversation.id,
        role="user",
        text=question,
        created_at=utc_now_iso(),
    )

    cached = _lookup(local_entry, reads.cached, search_query, local_key)
    cache_put: repository.CacheEntry | None = None
    tokens_in = tokens_out = 0
    fresh = cached is None
    if cached is None:
        _metric("AnswerCacheMiss")
        try:
            cached, tokens_in, tokens_out, cache_put = _answer_afresh(
                access, agent, question, history, search_query, policy, item_cache=item_cache
            )
        except answering.ProviderUnavailable:
            _store_failed_question(
                conversation, user, rate_limits.without_quota(counters), policy, now
            )
            raise
    else:
        _metric("AnswerCacheHit")

    if cached.abstained:
        _metric("AnswerAbstained")
    latency_ms = int((time.perf_counter() - started) * 1000)
    reply = Message(
        id=new_message_id(),
        conversation_id=conversation.id,
        role="assistant",
        text=cached.text,
        created_at=utc_now_iso(),
        citations=cached.citations,
        abstained=cached.abstained,
        cached=not fresh,
        model=cached.model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        latency_ms=latency_ms,
    )
    event = MessageAnswered(
        tenant_id=tenant_id,
        actor=access.actor,
        subject=f"conversation/{conversation.id}",
        data=MessageAnsweredData(
            agent_id=agent_id,
            conversation_id=conversation.id,
            message_id=reply.id,
            question_id=user.id,
            channel=conversation.channel,
            model=reply.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_ms=latency_ms,
            cache_hit=reply.cached,
            abstained=reply.abstained,
            citations=len(reply.citations),
        ),
    )
    _record(
        conversation,
        user=user,
        assistant=reply,
        counters=counters,
        cache=cache_put,
        events=[event],
        policy=policy,
        now=now,
    )
    return Exchange(question=user, answer=reply)


def _lookup(
    local_entry: CachedAnswer | None,
    shared: repository.CacheEntry | None,
    search_query: str,
    local_key: tuple[str, str, str],
) -> CachedAnswer | None:
    """The cached answer this message may reuse: L1 first, then the shared entry the
    BatchGetItem brought (which then warms L1)."""
    cached = answer_cache.usable(local_entry, search_query)
    if cached is None and shared is not None:
        cached = answer_cache.usable(shared.answer, search_query)
        if cached is not None:
            answer_cache.local().set(local_key, cached)
    return cached


def _answer_afresh(
    access: Access,
    agent: Any,
    question: str,
    history: list[answering.Turn],
    search_query: str,
    policy: MessagePolicy,
    *,
    item_cache: bool,
) -> tuple[CachedAnswer, int, int, repository.CacheEntry | None]:
    """A cache miss: retrieve and generate, keep the answer in L1 (and memcached when
    configured) and return the DynamoDB cache entry to write with the message, if that is
    the L2. (answer, tokens in, tokens out, cache entry)."""
    answer, tokens_in, tokens_out, index_version = _generate(
        access, agent, question, history, search_query, policy
    )
    key = answer_cache.digest(index_version, agent.version, question)
    answer_cache.tiered().set((access.tenant_id, access.agent_id, key), answer)
    if not item_cache:
        return answer, tokens_in, tokens_out, None
    entry = repository.CacheEntry(
        key=repository.AnswerCacheKey(access.tenant_id, access.agent_id, key),
        answer=answer,
        created_at=utc_now_iso(),
        expires_at=datetime.now(UTC) + timedelta(seconds=policy.cache_ttl_seconds),
    )
    return answer, tokens_in, tokens_out, entry


def _generate(
    access: Access,
    agent: Any,
    question: str,
    history: list[answering.Turn],
    search_query: str,
    policy: MessagePolicy,
) -> tuple[CachedAnswer, int, int, int]:
    """Retrieve and answer: (the answer as the cache keeps it, tokens in, tokens out, the
    index version searched)."""
    from knowledge.logic import search

    result = search(
        access.tenant_id,
        access.agent_id,
        search_query,
        k=policy.retrieval_k,
        filters=None,
        bucket=policy.documents_bucket,
        embedder=policy.embedder,
    )
    passages = answering.passages_from_hits(result.hits)
    persona = answering.AgentPersona(
        name=agent.name,
        instructions=agent.instructions,
        model=agent.model,
        temperature=agent.temperature,
    )
    produced = answering.answer(
        question, passages, history, persona, answering.provider_for(agent.model)
    )
    cached = CachedAnswer(
        text=produced.text,
        citations=_citations(produced),
        abstained=produced.abstained,
        model=produced.model,
        search_query=search_query,
    )
    return cached, produced.tokens_in, produced.tokens_out, result.index_version


def _record(
    conversation: Conversation,
    *,
    user: Message,
    assistant: Message | None,
    counters: list[repository.CounterUse],
    cache: repository.CacheEntry | None,
    events: list[Any],
    policy: MessagePolicy,
    now: float,
) -> None:
    stored = [user] + ([assistant] if assistant else [])
    history = _next_history(conversation, *stored) if assistant else list(conversation.history)
    try:
        repository.record_turn(
            conversation,
            user=user,
            assistant=assistant,
            history=history,
            mark_unanswered=bool(assistant and assistant.abstained and not conversation.unanswered),
            counters=counters,
            cache=cache,
            events=events,
            requires=[agent_still_exists(conversation.tenant_id, conversation.agent_id)],
        )
    except repository.CounterFull as exc:
        raise rate_limits.refused(exc.counter, policy.limits, now) from None


def _store_failed_question(
    conversation: Conversation,
    user: Message,
    counters: list[repository.CounterUse],
    policy: MessagePolicy,
    now: float,
) -> None:
    """Keep the question the provider could not answer (status "failed"); a failure to store
    it is logged and the visitor still gets the provider's 503."""
    failed = user.model_copy(update={"status": "failed"})
    try:
        _record(
            conversation,
            user=failed,
            assistant=None,
            counters=counters,
            cache=None,
            events=[],
            policy=policy,
            now=now,
        )
    except Exception:
        logger().exception("could not store a question the provider failed to answer")
