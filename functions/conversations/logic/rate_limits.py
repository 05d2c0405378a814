"""Rate limits: DynamoDB atomic counters in fixed windows.

Messages are counted per visitor, per client address and per publishable key (the widget's),
and per agent; conversation starts per client address and per publishable key. Each window is
one item per subject that TTL removes afterwards. A message
reads the counters with the conversation (the same BatchGetItem) and is refused at once when
a window is used up, before any retrieval or generation; the counters are then incremented
in the message's own transaction, on the condition that they are still below their limits,
so two concurrent messages can never both take the last slot. A start has nothing
expensive to spare: its counters are only incremented, on the same condition, in its own
transaction.

The tenant's message quota of its billing period (billing's ``message_allowance``: the plan's
included messages, or with overage as many more as the spend cap pays for) is one more such
counter, read and incremented in the same two calls: an over-quota tenant's message is refused
before any work (429 ``quota_exceeded`` with a hard stop, Retry-After until the period resets;
402 ``spend_cap_reached`` in overage mode) and nothing is written.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agenthub.errors import AppError, PaymentRequired, TooManyRequests
from agenthub.public_limits import client_digest
from conversations.dal.repository import CounterUse

TTL_MARGIN_SECONDS = 60
# A period's quota counter outlives the period, so a late message of the old period (clock
# skew) still finds it; TTL removes it afterwards.
QUOTA_KEEP = timedelta(days=40)


class QuotaExceeded(TooManyRequests):
    code = "quota_exceeded"


class SpendCapReached(PaymentRequired):
    code = "spend_cap_reached"


@dataclass(frozen=True)
class QuotaUse(CounterUse):
    """The tenant's message quota counter, with what its refusal tells the caller."""

    enforcement: str = "hard_stop"
    included: int = 0
    resets_at: str = ""


def now() -> float:
    """The clock windows are counted by (tests replace it to stay inside one window)."""
    return time.time()


@dataclass(frozen=True)
class Limits:
    visitor_messages: int  # per visitor of an agent, per window
    agent_messages: int  # per agent, per window
    window_seconds: int
    # The widget's publishable key is public: anyone may copy it into a script. These bound
    # what one client address, and one key, may take of the agent's budget per window.
    client_messages: int = 60
    key_messages: int = 400
    client_starts: int = 10
    key_starts: int = 300


@dataclass(frozen=True)
class Caller:
    """Who sends a message or starts a conversation, for counting: the visitor (None: not
    known yet), and for the widget the client address and the publishable key."""

    visitor_id: str | None = None
    client_address: str | None = None
    key_id: str | None = None


def window_start(now: float, limits: Limits) -> int:
    return int(now // limits.window_seconds) * limits.window_seconds


def _uses(
    tenant_id: str,
    agent_id: str,
    action: str,
    subjects: Iterable[tuple[str, str | None, int]],
    limits: Limits,
    now: float,
) -> list[CounterUse]:
    start = window_start(now, limits)
    expires = datetime.fromtimestamp(start + limits.window_seconds + TTL_MARGIN_SECONDS, UTC)
    return [
        CounterUse(tenant_id, agent_id, subject, subject_id, start, limit, expires, action)
        for subject, subject_id, limit in subjects
    ]


def counters(
    tenant_id: str,
    agent_id: str,
    caller: Caller,
    limits: Limits,
    now: float,
    allowance: Any = None,
) -> list[CounterUse]:
    """The counters a message of ``caller`` uses now (most specific first; the agent's
    always, the others when ``caller`` names them); with billing's ``allowance``, the
    tenant's quota counter of the period last."""
    client = client_digest(caller.client_address) if caller.client_address else None
    subjects = [
        ("visitor", caller.visitor_id, limits.visitor_messages),
        ("client", client, limits.client_messages),
        ("key", caller.key_id, limits.key_messages),
    ]
    named = [s for s in subjects if s[1] is not None]
    found = _uses(
        tenant_id,
        agent_id,
        "messages",
        [*named, ("agent", None, limits.agent_messages)],
        limits,
        now,
    )
    if allowance is not None:
        resets = datetime.fromisoformat(allowance.resets_at.replace("Z", "+00:00"))
        found.append(
            QuotaUse(
                tenant_id,
                agent_id,
                "tenant",
                None,
                0,
                allowance.limit,
                resets + QUOTA_KEEP,
                quota_period=allowance.period,
                enforcement=allowance.enforcement,
                included=allowance.included,
                resets_at=allowance.resets_at,
            )
        )
    return found


def start_counters(
    tenant_id: str, agent_id: str, caller: Caller, limits: Limits, now: float
) -> list[CounterUse]:
    """The counters a conversation start of ``caller`` uses now (only the widget's have
    any: a client address and a publishable key)."""
    client = client_digest(caller.client_address) if caller.client_address else None
    subjects = [("client", client, limits.client_starts), ("key", caller.key_id, limits.key_starts)]
    return _uses(
        tenant_id, agent_id, "starts", [s for s in subjects if s[1] is not None], limits, now
    )


_WHO = {
    "visitor": "this visitor",
    "agent": "this agent",
    "client": "this client address",
    "key": "this publishable key",
}
_WHAT = {"messages": "messages", "starts": "conversation starts"}


def _quota_refused(counter: QuotaUse, now: float) -> AppError:
    details = {
        "scope": "tenant",
        "period": counter.quota_period,
        "limit": counter.limit,
        "included": counter.included,
        "enforcement": counter.enforcement,
        "resets_at": counter.resets_at,
    }
    if counter.enforcement == "overage":
        return SpendCapReached(
            "this workspace reached its spend cap for the billing period; raise the cap or "
            "upgrade the plan to keep answering",
            details=details,
        )
    resets = datetime.fromisoformat(counter.resets_at.replace("Z", "+00:00")).timestamp()
    retry_after = max(1, math.ceil(resets - now))
    return QuotaExceeded(
        "this workspace used all messages its plan includes this billing period; upgrade the "
        "plan or allow overage to keep answering",
        details=details,
        headers={"Retry-After": str(retry_after)},
    )


def without_quota(used: Iterable[CounterUse]) -> list[CounterUse]:
    """The rate counters alone (a question the provider failed to answer uses no quota)."""
    return [counter for counter in used if counter.quota_period is None]


def refused(counter: CounterUse, limits: Limits, now: float) -> AppError:
    """The refusal of a used-up counter: for a rate window a 429 with Retry-After (the
    seconds until the next window); for the quota, see ``_quota_refused``."""
    if isinstance(counter, QuotaUse):
        return _quota_refused(counter, now)
    retry_after = max(1, math.ceil(window_start(now, limits) + limits.window_seconds - now))
    return TooManyRequests(
        f"too many {_WHAT[counter.action]} for {_WHO[counter.subject]}; retry in {retry_after} s",
        details={
            "scope": counter.subject,
            "limit": counter.limit,
            "window_seconds": limits.window_seconds,
        },
        headers={"Retry-After": str(retry_after)},
    )


def check(
    used: Iterable[CounterUse], counts: Mapping[str, int], limits: Limits, now: float
) -> None:
    """Raise the 429 of the first counter whose window is already used up."""
    for counter in used:
        if counts.get(counter.subject, 0) >= counter.limit:
            raise refused(counter, limits, now)
