"""Rate limits per visitor and per agent: DynamoDB atomic counters in fixed windows.

Each window is one item per subject (the visitor of an agent, or the agent) that TTL removes
afterwards. A message
reads the counters with the conversation (the same BatchGetItem) and is refused at once when
a window is used up, before any retrieval or generation; the counters are then incremented
in the message's own transaction, on the condition that they are still below their limits,
so two concurrent messages can never both take the last slot.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agenthub.errors import TooManyRequests
from conversations.dal.repository import CounterUse

TTL_MARGIN_SECONDS = 60


def now() -> float:
    """The clock windows are counted by (tests replace it to stay inside one window)."""
    return time.time()


@dataclass(frozen=True)
class Limits:
    visitor_messages: int  # per visitor of an agent, per window
    agent_messages: int  # per agent, per window
    window_seconds: int


def window_start(now: float, limits: Limits) -> int:
    return int(now // limits.window_seconds) * limits.window_seconds


def counters(
    tenant_id: str, agent_id: str, visitor_id: str | None, limits: Limits, now: float
) -> list[CounterUse]:
    """The counters a message of ``visitor_id`` (None: not known yet) uses now."""
    start = window_start(now, limits)
    expires = datetime.fromtimestamp(start + limits.window_seconds + TTL_MARGIN_SECONDS, UTC)
    found = [CounterUse(tenant_id, agent_id, None, start, limits.agent_messages, expires)]
    if visitor_id is not None:
        found.insert(
            0, CounterUse(tenant_id, agent_id, visitor_id, start, limits.visitor_messages, expires)
        )
    return found


def refused(counter: CounterUse, limits: Limits, now: float) -> TooManyRequests:
    """The 429 for a used-up window, with Retry-After: the seconds until the next one."""
    retry_after = max(1, math.ceil(window_start(now, limits) + limits.window_seconds - now))
    who = "this visitor" if counter.subject == "visitor" else "this agent"
    return TooManyRequests(
        f"too many messages for {who}; retry in {retry_after} s",
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
