"""Limits on the public (widget and manage-link) routes per client address and per publishable
key, in fixed windows: DynamoDB counters taken on the condition that they are below their
limit, so a script holding a public key cannot spend a tenant's capacity (Stripe sessions,
booking locks, reads) faster than the limits allow, and one address cannot crowd out the
others. A write counts in its own transaction (``stage``, then ``raise_if_full`` on its
cancellation: no extra round trip); a read, or a write whose transaction comes after a
third-party call, counts first with ``take`` (one TransactWriteItems for both counters).

Conversations count their starts and messages the same way with their own counters
(conversations.logic.rate_limits), read together with the conversation.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from agenthub import keys, outbox
from agenthub.errors import TooManyRequests
from agenthub.table import TableItem

TTL_MARGIN_SECONDS = 60


class PublicCounterItem(TableItem, discriminator="public_counter"):
    """Requests of one client address or publishable key in one window; TTL removes it."""

    hits = NumberAttribute(default=0)


@dataclass(frozen=True)
class Window:
    """What one client address and one publishable key may do of ``action`` per window."""

    action: str
    client: int
    key: int
    seconds: int = 60


@dataclass(frozen=True)
class Count:
    """One request counted against ``limit`` (``subject``: "client" or "key")."""

    pk: str
    sk: str
    subject: str
    limit: int
    window: Window
    window_start: int
    expires_at: datetime


class PublicLimitSettings(BaseModel):
    """A public API function's limits per window (mixed into its settings; environment
    variables PUBLIC_READS_PER_CLIENT, ... override them): reads are cheap and a visitor
    browsing slots makes a few a minute; writes (a booking, a Stripe Checkout session, a
    change through a manage link) a visitor makes once."""

    public_window_seconds: int = Field(default=60, ge=1)
    public_reads_per_client: int = Field(default=120, ge=1)
    public_reads_per_key: int = Field(default=3000, ge=1)
    public_writes_per_client: int = Field(default=10, ge=1)
    public_writes_per_key: int = Field(default=300, ge=1)

    def reads(self) -> Window:
        return Window(
            "reads",
            self.public_reads_per_client,
            self.public_reads_per_key,
            self.public_window_seconds,
        )

    def writes(self) -> Window:
        return Window(
            "writes",
            self.public_writes_per_client,
            self.public_writes_per_key,
            self.public_window_seconds,
        )


def now() -> float:
    """The clock windows are counted by (tests replace it to stay inside one window)."""
    return time.time()


def client_digest(address: str) -> str:
    """What a counter keeps of a client address: not the address (it is personal data)."""
    return hashlib.sha256(address.encode()).hexdigest()[:24]


def counts(
    tenant_id: str,
    scope_id: str,
    window: Window,
    *,
    client_address: str | None,
    key_id: str | None,
) -> list[Count]:
    """The counters one request uses now: its client address's and its publishable key's
    (``scope_id``: the agent, or what else the route serves), when the request names them."""
    start = int(now() // window.seconds) * window.seconds
    expires = datetime.fromtimestamp(start + window.seconds + TTL_MARGIN_SECONDS, UTC)
    client = client_digest(client_address) if client_address else None
    subjects = [("client", client, window.client), ("key", key_id, window.key)]
    return [
        Count(
            pk=keys.rate_pk(tenant_id, scope_id, f"public-{window.action}-{subject}", subject_id),
            sk=keys.rate_window_sk(start),
            subject=subject,
            limit=limit,
            window=window,
            window_start=start,
            expires_at=expires,
        )
        for subject, subject_id, limit in subjects
        if subject_id is not None
    ]


def stage(t: TransactWrite, used: Iterable[Count]) -> None:
    """Count each use in transaction ``t``, on the condition that its window is not used up."""
    for count in used:
        t.update(
            PublicCounterItem(pk=count.pk, sk=count.sk),
            actions=[
                PublicCounterItem.entity.set(PublicCounterItem),
                PublicCounterItem.hits.add(1),
                PublicCounterItem.expires_at.set(count.expires_at),
            ],
            condition=PublicCounterItem.hits.does_not_exist()
            | (PublicCounterItem.hits < count.limit),
        )


def refusal(count: Count) -> TooManyRequests:
    """429 with the wait until the next window, and which limit it was."""
    retry_after = max(1, math.ceil(count.window_start + count.window.seconds - now()))
    who = "this client address" if count.subject == "client" else "this publishable key"
    return TooManyRequests(
        f"too many requests from {who}; retry in {retry_after} s",
        details={
            "scope": count.subject,
            "limit": count.limit,
            "window_seconds": count.window.seconds,
        },
        headers={"Retry-After": str(retry_after)},
    )


def raise_if_full(exc: TransactWriteError, used: Iterable[Count]) -> None:
    """Raise the 429 of the first of ``used`` whose condition failed in ``exc`` (a
    transaction ``outbox.write`` ran)."""
    failed = outbox.failed_keys(exc)
    for count in used:
        if (count.pk, count.sk) in failed:
            raise refusal(count) from exc


def take(used: Iterable[Count]) -> None:
    """Count ``used`` now in one TransactWriteItems (nothing else to write with them)."""
    used = list(used)
    if not used:
        return
    try:
        outbox.write(lambda t: stage(t, used), [])
    except TransactWriteError as exc:
        raise_if_full(exc, used)
        raise
