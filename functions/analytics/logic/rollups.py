"""The nightly rollup (EventBridge Scheduler, retries and a DLQ): for every agent with
activity on a local day, the day's rates, funnel and questions, stored beside its counters.

Questions are the ones the consumer filed under the agent's day as their answers were counted
(one partition per agent and local day: one paged Query, however many conversations). Top questions
group identical wordings after normalization; unanswered questions are grouped by
similarity (word-set Jaccard ≥ 0.5 to the group's first question), which puts "do you take
insurance?" and "which insurance do you take" in one gap of the knowledge base.
Re-running a day overwrites its rollup, so retries are safe.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from agenthub.errors import AppError
from agenthub.events import utc_now_iso
from agenthub.observability import logger
from analytics.dal import repository
from analytics.models import DayCounts, QuestionCount, QuestionGroup, Rollup

TOP = 10
SIMILAR = 0.5
# Grouping compares each distinct wording with the groups so far: the day's most frequent
# distinct unanswered wordings are grouped, the long tail of one-offs is left out (bounded
# time on a busy day; the tail rarely changes which gaps lead the list).
MAX_GROUPED = 2000
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "can",
        "do",
        "does",
        "for",
        "from",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


class RollupFailed(AppError):
    """Some agents' rollups failed; the scheduler retries the run (rollups are overwritten)."""


def normalize(question: str) -> str:
    return " ".join(_WORD.findall(question.lower()))


def _terms(question: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(question.lower()) if w not in _STOP)


def top_questions(questions: list[str], limit: int = TOP) -> list[QuestionCount]:
    """The most asked questions (identical after normalization), most frequent wording shown."""
    wordings: dict[str, Counter[str]] = {}
    for question in questions:
        wordings.setdefault(normalize(question), Counter())[question.strip()] += 1
    ranked = sorted(wordings.values(), key=lambda c: (-sum(c.values()), c.most_common(1)[0][0]))
    return [
        QuestionCount(question=c.most_common(1)[0][0], count=sum(c.values()))
        for c in ranked[:limit]
    ]


def group_similar(weighted: list[tuple[str, int]], limit: int = TOP) -> list[QuestionGroup]:
    """Greedy similarity groups of (question, count), largest first."""
    groups: list[tuple[frozenset[str], Counter[str]]] = []
    for question, count in sorted(weighted, key=lambda q: -q[1])[:MAX_GROUPED]:
        terms = _terms(question)
        for anchor, members in groups:
            union = anchor | terms
            if union and len(anchor & terms) / len(union) >= SIMILAR:
                members[question.strip()] += count
                break
        else:
            groups.append((terms, Counter({question.strip(): count})))
    ranked = sorted(groups, key=lambda g: -sum(g[1].values()))
    return [
        QuestionGroup(
            question=members.most_common(1)[0][0],
            count=sum(members.values()),
            examples=[q for q, _ in members.most_common(3)],
        )
        for _, members in ranked[:limit]
    ]


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def derived(counts: DayCounts) -> dict[str, Any]:
    """Rates and the funnel conversation → lead → booking → payment from counters."""
    funnel = {
        "conversations": counts.conversations,
        "leads": counts.leads,
        "bookings": counts.bookings,
        "payments": counts.payments,
    }
    rated = counts.feedback_up + counts.feedback_down
    return {
        "answer_rate": _ratio(counts.answered, counts.messages),
        "feedback_rate": _ratio(rated, counts.answered),
        "satisfaction": _ratio(counts.feedback_up, rated),
        "funnel": funnel,
        "conversion": {
            "lead": _ratio(counts.leads, counts.conversations),
            "booking": _ratio(counts.bookings, counts.conversations),
            "payment": _ratio(counts.payments, counts.conversations),
        },
        "tokens_per_conversation": _ratio(
            counts.tokens_in + counts.tokens_out, counts.conversations
        ),
        "cost_per_conversation_micros": _ratio(counts.cost_micros, counts.conversations),
    }


def rollup_day(tenant_id: str, agent_id: str, day: str) -> Rollup:
    found = repository.days(tenant_id, agent_id, day, day)
    counts = found[0].counts if found else DayCounts()
    questions = list(repository.day_questions(tenant_id, agent_id, day))
    unanswered = Counter(q.strip() for q, abstained in questions if abstained)
    rollup = Rollup(
        day=day,
        **derived(counts),
        top_questions=top_questions([q for q, _ in questions]),
        unanswered_questions=group_similar(list(unanswered.items())),
        computed_at=utc_now_iso(),
    )
    repository.put_rollup(tenant_id, agent_id, rollup)
    return rollup


def run(days: list[str]) -> dict[str, Any]:
    """Roll up every active agent of ``days``; raises RollupFailed (after trying all) when
    any failed, so the scheduler's retry runs it again."""
    done = failed = 0
    for day in days:
        for tenant_id, agent_id in repository.agents_active_on(day):
            try:
                rollup_day(tenant_id, agent_id, day)
                done += 1
            except Exception:
                failed += 1
                logger().exception("rollup failed", extra={"tenant_id": tenant_id, "day": day})
    result = {"days": days, "rolled_up": done, "failed": failed}
    if failed:
        raise RollupFailed("some rollups failed", details=result)
    return result
