"""Slot locks: the items that make double booking impossible.

A booking's span (buffer before + meeting + buffer after) covers 5-minute UTC buckets; each
bucket of a resource is one lock item. A lock names its ``owner`` (a booking id, or for a
seated event type the group ``group:<event type>:<start>`` with a map of seat holders) and
``hold_until`` (epoch seconds; ``FOREVER`` once confirmed). A lock is free when it does not
exist or its ``hold_until`` has passed: that test is in every write's condition, so an
expired hold is re-taken at once whatever DynamoDB's TTL has or has not deleted yet (TTL only
cleans up, days later).

Two ways to write:

- ``claim`` (a new exclusive booking, the hot path): put every bucket with the condition
  "absent or expired", no read first. One TransactWriteItems is the whole booking.
- ``plan`` (seats, confirm, cancel, release, reschedule): the writer has read the locks
  (consistent reads) and decides each bucket's next state; every write is conditioned on the
  state it read (owner and a version ``v``), so a concurrent change fails the transaction
  instead of being overwritten. The caller retries with a fresh read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.models import GRID_MINUTES, LockState, LockWrite

BUCKET_SECONDS = GRID_MINUTES * 60
FOREVER = 32503680000  # 3000-01-01: a confirmed booking's locks never expire


def buckets(start: datetime, end: datetime) -> list[int]:
    """Epoch seconds of every bucket [start, end) touches."""
    first = int(start.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    last = int(end.timestamp())
    return list(range(first, last, BUCKET_SECONDS))


def group_of(event_type_id: str, start: datetime) -> str:
    """The owner value of a seated session's locks (one per event type and start)."""
    return f"group:{event_type_id}:{int(start.timestamp())}"


class LockConflict(Exception):
    def __init__(self, bucket: int) -> None:
        super().__init__(f"bucket {bucket} is taken")
        self.bucket = bucket


@dataclass(frozen=True)
class Claim:
    """What a booking takes: its buckets, alone or as one seat of a group."""

    booking_id: str
    buckets: list[int]
    hold_until: int
    group: str | None = None  # seated event types
    capacity: int = 1


@dataclass(frozen=True)
class Release:
    booking_id: str
    buckets: list[int]
    group: str | None = None


def claim_writes(claim: Claim) -> list[LockWrite]:
    """The no-read path of an exclusive booking: every bucket taken if absent or expired."""
    new = LockState(owner=claim.booking_id, hold_until=claim.hold_until)
    return [LockWrite(b, new, None, takeover=True) for b in claim.buckets]


def _without(state: LockState | None, release: Release, now: int) -> LockState | None:
    if state is None:
        return None
    if release.group is None:
        return None if state.owner == release.booking_id else state
    if state.owner != release.group or release.booking_id not in state.seats:
        return state
    rest = {b: h for b, h in state.live_seats(now).items() if b != release.booking_id}
    if not rest:
        return None
    return LockState(state.owner, max(rest.values()), rest, state.v)


def _with(state: LockState | None, claim: Claim, now: int, bucket: int) -> LockState:
    if state is None or not state.live(now):
        if claim.group is None:
            return LockState(claim.booking_id, claim.hold_until)
        return LockState(claim.group, claim.hold_until, {claim.booking_id: claim.hold_until})
    if claim.group is not None and state.owner == claim.group:
        seats = state.live_seats(now)
        if claim.booking_id in seats or len(seats) < claim.capacity:
            seats = {**seats, claim.booking_id: claim.hold_until}
            return LockState(claim.group, max(seats.values()), seats, state.v)
    if claim.group is None and state.owner == claim.booking_id:
        return LockState(claim.booking_id, claim.hold_until, v=state.v)
    raise LockConflict(bucket)


def plan(
    read: dict[int, LockState | None],
    *,
    now: int,
    release: Release | None = None,
    claim: Claim | None = None,
) -> list[LockWrite]:
    """Writes that turn the ``read`` states into: ``release`` let go, then ``claim`` taken.
    Raises LockConflict naming the first bucket the claim cannot have."""
    writes = []
    touched = sorted(set(release.buckets if release else []) | set(claim.buckets if claim else []))
    for bucket in touched:
        before = read.get(bucket)
        after = before
        if release is not None and bucket in release.buckets:
            after = _without(after, release, now)
        if claim is not None and bucket in claim.buckets:
            after = _with(after, claim, now, bucket)
        if after == before:
            continue
        if after is not None:
            after = LockState(
                after.owner, after.hold_until, after.seats, (before.v + 1) if before else 1
            )
        writes.append(LockWrite(bucket, after, before))
    return writes


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def ttl_for(end: datetime) -> datetime:
    """When TTL may clean a lock up: a week after its booking ended (a hold expires before)."""
    return end + timedelta(days=7)
