"""Scheduling persistence: the only module of this domain that touches DynamoDB.

A new exclusive booking is one TransactWriteItems: the booking, its slot locks (absent or
expired), its limit counters (below the limit), its idempotency key (absent), the hold
marker of a held booking and its event in the outbox. Every other booking change is the same
kind of transaction, conditioned on what was read.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from agenthub import keys, outbox, public_limits
from agenthub.errors import (
    Conflict,
    NotFound,
    VersionConflict,
    aws_error_code,
    is_condition_failure,
)
from agenthub.events import DomainEvent
from agenthub.table import TableItem
from scheduling.dal.items import (
    BookingItem,
    BookingLimitItem,
    BusyTimesItem,
    EventTypeItem,
    HoldMarkerItem,
    IdempotencyItem,
    NoticeItem,
    ResourceItem,
    SlotLockItem,
)
from scheduling.models import Booking, EventType, LockState, LockWrite, Resource

IDEMPOTENCY_TTL = timedelta(hours=24)
Part = Literal["booking", "lock", "counter", "idempotency", "hold", "event"]


# ---------------------------------------------------------------------------- config


def _resource(item: ResourceItem) -> Resource:
    return Resource.model_validate({**item.body, "has_feed": bool(item.feed_token_hash)})


def _body(model: Resource | EventType | Booking) -> dict[str, Any]:
    return model.model_dump(
        mode="json", exclude={"has_feed"} if isinstance(model, Resource) else set()
    )


def _resource_item(resource: Resource) -> ResourceItem:
    synced = resource.busy_ics_url is not None
    return ResourceItem(
        pk=keys.scheduling_pk(resource.tenant_id),
        sk=keys.resource_sk(resource.id),
        resource_id=resource.id,
        body=_body(resource),
        version=resource.version,
        gsi1pk=keys.CALENDAR_SYNC_GSI1PK if synced else None,
        gsi1sk=keys.calendar_sync_gsi1sk(resource.tenant_id, resource.id) if synced else None,
    )


def _event_type_item(event_type: EventType) -> EventTypeItem:
    return EventTypeItem(
        pk=keys.scheduling_pk(event_type.tenant_id),
        sk=keys.event_type_sk(event_type.id),
        event_type_id=event_type.id,
        body=_body(event_type),
        version=event_type.version,
    )


def create_config(
    item: Resource | EventType, events: Sequence[DomainEvent], *, requires: Resource | None = None
) -> None:
    """Store a new resource or event type (an event type only while its resource exists)."""
    new = _resource_item(item) if isinstance(item, Resource) else _event_type_item(item)

    def build(t: TransactWrite) -> None:
        t.save(new, condition=type(new).pk.does_not_exist())
        if requires is not None:
            t.condition_check(
                ResourceItem,
                keys.scheduling_pk(requires.tenant_id),
                keys.resource_sk(requires.id),
                condition=ResourceItem.pk.exists(),
            )

    outbox.write(build, events, on_condition_failure=NotFound("resource not found"))


def replace_config(item: Resource | EventType, events: Sequence[DomainEvent]) -> None:
    """Write ``item`` if the stored version is the one before it (409 otherwise)."""
    new = _resource_item(item) if isinstance(item, Resource) else _event_type_item(item)
    cls = type(new)
    outbox.write(
        lambda t: t.save(new, condition=cls.pk.exists() & (cls.version == item.version - 1)),
        events,
        on_condition_failure=VersionConflict(
            "it was changed by someone else; fetch it and retry",
            details={"expected_version": item.version - 1},
        ),
    )


def delete_config(
    tenant_id: str, kind: Literal["resource", "event_type"], id_: str, events: Sequence[DomainEvent]
) -> None:
    pk = keys.scheduling_pk(tenant_id)
    if kind == "resource":
        item: TableItem = ResourceItem(pk=pk, sk=keys.resource_sk(id_))
    else:
        item = EventTypeItem(pk=pk, sk=keys.event_type_sk(id_))
    outbox.write(
        lambda t: t.delete(item, condition=type(item).pk.exists()),
        events,
        on_condition_failure=NotFound(f"{kind.replace('_', ' ')} not found"),
    )


@dataclass
class Config:
    resources: dict[str, Resource] = field(default_factory=dict)
    event_types: dict[str, EventType] = field(default_factory=dict)


def load_config(tenant_id: str) -> Config:
    """A tenant's resources and event types: one Query of their partition."""
    config = Config()
    for item in TableItem.query(keys.scheduling_pk(tenant_id), consistent_read=True):
        if isinstance(item, ResourceItem):
            config.resources[item.resource_id] = _resource(item)
        elif isinstance(item, EventTypeItem):
            config.event_types[item.event_type_id] = EventType.model_validate(item.body)
    return config


def feed_token_hash(tenant_id: str, resource_id: str) -> str | None:
    try:
        item = ResourceItem.get(keys.scheduling_pk(tenant_id), keys.resource_sk(resource_id))
    except DoesNotExist:
        raise NotFound("resource not found") from None
    return item.feed_token_hash


def set_feed_token_hash(
    tenant_id: str, resource_id: str, digest: str, events: Sequence[DomainEvent]
) -> None:
    item = ResourceItem(pk=keys.scheduling_pk(tenant_id), sk=keys.resource_sk(resource_id))
    outbox.write(
        lambda t: t.update(
            item,
            actions=[ResourceItem.feed_token_hash.set(digest)],
            condition=ResourceItem.pk.exists(),
        ),
        events,
        on_condition_failure=NotFound("resource not found"),
    )


def record_sync(
    tenant_id: str,
    resource_id: str,
    intervals: list[list[str]] | None,
    synced_at: str,
    error: str | None,
) -> None:
    """Store imported busy times (None keeps the last good import) and the sync outcome."""
    pk, sk = keys.scheduling_pk(tenant_id), keys.resource_sk(resource_id)
    # body is JSON text: read-modify-write it under the version condition instead.
    for _attempt in range(3):
        try:
            current = ResourceItem.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            return
        body = {**current.body, "busy_synced_at": synced_at, "busy_sync_error": error}
        current_version = current.version
        try:
            with TransactWrite(connection=TableItem._get_connection().connection) as t:
                t.update(
                    current,
                    actions=[ResourceItem.body.set(body)],
                    condition=ResourceItem.version == current_version,
                )
                if intervals is not None:
                    t.save(
                        BusyTimesItem(
                            pk=busy_pk(tenant_id),
                            sk=keys.busy_sk(resource_id),
                            resource_id=resource_id,
                            intervals=intervals,
                            synced_at=synced_at,
                        )
                    )
            return
        except TransactWriteError:
            continue


def busy_pk(tenant_id: str) -> str:
    # Imported busy times are kept apart from the config partition (they can be large).
    return keys.scheduling_pk(tenant_id) + "BUSY"


def busy_times(tenant_id: str, resource_id: str) -> list[list[str]]:
    try:
        item = BusyTimesItem.get(busy_pk(tenant_id), keys.busy_sk(resource_id))
    except DoesNotExist:
        return []
    return list(item.intervals or [])


def resources_to_sync(limit: int = 500) -> list[tuple[str, str]]:
    """(tenant, resource) of every resource with a busy-time import URL."""
    found = []
    for item in ResourceItem.gsi1.query(keys.CALENDAR_SYNC_GSI1PK, limit=limit):
        tenant_id = item.pk.removeprefix(keys.TENANT_PREFIX).removesuffix("#SCHED")
        found.append((tenant_id, item.resource_id))
    return found


# ---------------------------------------------------------------------------- bookings


def _booking(item: BookingItem) -> Booking:
    return Booking.model_validate(item.body)


def get_booking(tenant_id: str, booking_id: str, *, consistent: bool = True) -> Booking:
    try:
        item = BookingItem.get(
            keys.booking_pk(tenant_id, booking_id), keys.BOOKING_SK, consistent_read=consistent
        )
    except DoesNotExist:
        raise NotFound("booking not found") from None
    return _booking(item)


def bookings_between(
    tenant_id: str, resource_id: str, start: datetime, end: datetime, *, limit: int = 2000
) -> list[Booking]:
    """Bookings of a resource starting in [start, end), oldest first (any status)."""
    low = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    high = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = BookingItem.gsi1.query(
        keys.resource_bookings_gsi1pk(tenant_id, resource_id),
        BookingItem.gsi1sk.between(low, high + "~"),
        limit=limit,
    )
    return [_booking(item) for item in result if isinstance(item, BookingItem)]


def read_locks(
    tenant_id: str, resource_id: str, buckets: Iterable[int]
) -> dict[int, LockState | None]:
    """The locks of ``buckets`` (consistent reads); absent ones map to None."""
    wanted = sorted(set(buckets))
    found: dict[int, LockState | None] = dict.fromkeys(wanted)
    by_pk = {keys.slot_lock_pk(tenant_id, resource_id, b): b for b in wanted}
    for item in SlotLockItem.batch_get([(pk, keys.LOCK_SK) for pk in by_pk], consistent_read=True):
        found[by_pk[item.pk]] = LockState(
            owner=item.owner,
            hold_until=int(item.hold_until),
            seats={k: int(v) for k, v in (item.seats or {}).items()},
            v=int(item.v),
        )
    return found


@dataclass(frozen=True)
class CounterChange:
    pk: str
    sk: str
    delta: int
    limit: int | None  # checked on increments
    expires_at: datetime


@dataclass(frozen=True)
class IdempotencyClaim:
    pk: str
    fingerprint: str
    booking_id: str


@dataclass
class BookingWrite:
    """Everything one booking change writes, in one transaction."""

    booking: Booking
    expect: Literal["new"] | tuple[int, ...] = "new"  # "new", or the allowed prior versions
    expect_status: tuple[str, ...] = ()
    expect_nonce: str | None = None
    hold_not_expired_at: int | None = None  # held bookings: hold_until must be >= this
    locks: list[LockWrite] = field(default_factory=list)
    lock_ttl: datetime | None = None
    now: int = 0
    counters: list[CounterChange] = field(default_factory=list)
    idempotency: IdempotencyClaim | None = None
    hold_marker: Literal["put", "delete"] | None = None
    events: list[DomainEvent] = field(default_factory=list)
    # the public route's rate counters (client address, publishable key): counted with it
    public: list[public_limits.Count] = field(default_factory=list)


class WriteRejected(Exception):
    """The transaction's conditions failed; ``part`` names the first failing action."""

    def __init__(self, part: Part, detail: Any = None) -> None:
        super().__init__(f"{part} condition failed")
        self.part = part
        self.detail = detail


class Contended(Exception):
    """DynamoDB cancelled the transaction for a conflict with another one (retry it)."""


def _lock_item(
    tenant_id: str, resource_id: str, write: LockWrite, ttl: datetime | None
) -> SlotLockItem:
    assert write.new is not None
    return SlotLockItem(
        pk=keys.slot_lock_pk(tenant_id, resource_id, write.bucket),
        sk=keys.LOCK_SK,
        owner=write.new.owner,
        hold_until=write.new.hold_until,
        seats=write.new.seats or None,
        v=write.new.v,
        expires_at=ttl,
    )


def _lock_condition(write: LockWrite, now: int) -> Any:
    if write.expected is None:
        if write.takeover:
            return SlotLockItem.pk.does_not_exist() | (SlotLockItem.hold_until < now)
        return SlotLockItem.pk.does_not_exist()
    return (SlotLockItem.owner == write.expected.owner) & (SlotLockItem.v == write.expected.v)


def _stage_booking(t: TransactWrite, write: BookingWrite) -> None:
    if write.expect == "new":
        condition = BookingItem.pk.does_not_exist()
    else:
        condition = BookingItem.pk.exists() & BookingItem.version.is_in(*write.expect)
        if write.expect_status:
            condition &= BookingItem.status.is_in(*write.expect_status)
        if write.expect_nonce is not None:
            condition &= BookingItem.manage_nonce == write.expect_nonce
        if write.hold_not_expired_at is not None:
            condition &= BookingItem.hold_until >= write.hold_not_expired_at
    t.save(_booking_item(write.booking), condition=condition)


def _stage_lock(t: TransactWrite, write: BookingWrite, lock: LockWrite) -> None:
    booking = write.booking
    condition = _lock_condition(lock, write.now)
    if lock.new is None:
        pk = keys.slot_lock_pk(booking.tenant_id, booking.resource_id, lock.bucket)
        t.delete(SlotLockItem(pk=pk, sk=keys.LOCK_SK), condition=condition)
    else:
        item = _lock_item(booking.tenant_id, booking.resource_id, lock, write.lock_ttl)
        t.save(item, condition=condition)


def _stage_counter(t: TransactWrite, counter: CounterChange) -> None:
    condition = None
    if counter.delta > 0 and counter.limit is not None:
        condition = BookingLimitItem.taken.does_not_exist() | (
            BookingLimitItem.taken <= counter.limit - counter.delta
        )
    t.update(
        BookingLimitItem(pk=counter.pk, sk=counter.sk),
        actions=[
            BookingLimitItem.taken.add(counter.delta),
            BookingLimitItem.expires_at.set(counter.expires_at),
        ],
        condition=condition,
    )


def _stage_idempotency(t: TransactWrite, claim: IdempotencyClaim) -> None:
    item = IdempotencyItem(
        pk=claim.pk,
        sk=keys.IDEMPOTENCY_SK,
        fingerprint=claim.fingerprint,
        booking_id=claim.booking_id,
        expires_at=datetime.now(UTC) + IDEMPOTENCY_TTL,
    )
    t.save(item, condition=IdempotencyItem.pk.does_not_exist())


def _stage_hold_marker(t: TransactWrite, write: BookingWrite) -> None:
    booking = write.booking
    pk = keys.booking_pk(booking.tenant_id, booking.id)
    if write.hold_marker == "delete":
        t.delete(HoldMarkerItem(pk=pk, sk=keys.HOLD_SK))
        return
    assert booking.hold_expires_at is not None
    t.save(
        HoldMarkerItem(
            pk=pk,
            sk=keys.HOLD_SK,
            booking_id=booking.id,
            tenant_id=booking.tenant_id,
            gsi1pk=keys.holds_gsi1pk(_hold_shard(booking.id)),
            gsi1sk=f"{booking.hold_expires_at}#{booking.tenant_id}#{booking.id}",
            expires_at=datetime.fromisoformat(booking.hold_expires_at) + timedelta(days=2),
        )
    )


def commit(write: BookingWrite) -> None:
    """Run ``write`` as one TransactWriteItems. Raises WriteRejected (which part failed),
    Contended (a transaction conflict: retry) or lets other faults propagate."""
    # pynamodb sends a transaction's actions grouped by kind (condition checks, deletes,
    # puts, updates), and DynamoDB's cancellation reasons follow that order.
    parts: dict[str, list[tuple[Part, Any]]] = {"delete": [], "put": [], "update": []}

    def build(t: TransactWrite) -> None:
        _stage_booking(t, write)
        parts["put"].append(("booking", None))
        for lock in write.locks:
            _stage_lock(t, write, lock)
            parts["delete" if lock.new is None else "put"].append(("lock", lock.bucket))
        for counter in write.counters:
            _stage_counter(t, counter)
            parts["update"].append(("counter", counter.sk))
        if write.idempotency is not None:
            _stage_idempotency(t, write.idempotency)
            parts["put"].append(("idempotency", write.idempotency.pk))
        if write.hold_marker is not None:
            _stage_hold_marker(t, write)
            parts["delete" if write.hold_marker == "delete" else "put"].append(("hold", None))
        parts["put"].extend(("event", None) for _ in write.events)
        public_limits.stage(t, write.public)  # updates, sent last: no positional part

    try:
        outbox.write(build, write.events)
    except TransactWriteError as exc:
        public_limits.raise_if_full(exc, write.public)
        reasons = list(getattr(exc, "cancellation_reasons", None) or [])
        ordered = parts["delete"] + parts["put"] + parts["update"]
        for (part, detail), reason in zip(ordered, reasons, strict=False):
            if reason is not None and getattr(reason, "code", None) == "ConditionalCheckFailed":
                raise WriteRejected(part, detail) from exc
        codes = {getattr(r, "code", None) for r in reasons if r}
        if "TransactionConflict" in codes or aws_error_code(exc) == "TransactionConflictException":
            raise Contended() from exc
        raise


def _booking_item(booking: Booking) -> BookingItem:
    hold_until = (
        int(datetime.fromisoformat(booking.hold_expires_at).timestamp())
        if booking.status == "held" and booking.hold_expires_at
        else 0
    )
    return BookingItem(
        pk=keys.booking_pk(booking.tenant_id, booking.id),
        sk=keys.BOOKING_SK,
        gsi1pk=keys.resource_bookings_gsi1pk(booking.tenant_id, booking.resource_id),
        gsi1sk=f"{booking.start}#{booking.id}",
        booking_id=booking.id,
        status=booking.status,
        hold_until=hold_until,
        manage_nonce=booking.manage_nonce,
        body=_body(booking),
        version=booking.version,
    )


def idempotent_booking(pk: str) -> tuple[str, str] | None:
    """(fingerprint, booking id) stored under an idempotency key, or None."""
    try:
        item = IdempotencyItem.get(pk, keys.IDEMPOTENCY_SK, consistent_read=True)
    except DoesNotExist:
        return None
    return item.fingerprint, item.booking_id


def update_booking_fields(booking: Booking, expected_version: int) -> None:
    """Store a booking's bookkeeping (its reminder status) without an event; the version
    condition keeps a concurrent change."""
    item = _booking_item(booking)
    try:
        item.save(condition=BookingItem.version == expected_version)
    except Exception as exc:
        if aws_error_code(exc) == "ConditionalCheckFailedException":
            raise Conflict("the booking changed meanwhile") from exc
        raise


def _hold_shard(booking_id: str) -> int:
    return int(hashlib.sha256(booking_id.encode()).hexdigest(), 16) % keys.HOLD_SHARDS


def expired_holds(before_iso: str, limit_per_shard: int = 100) -> list[tuple[str, str]]:
    """(tenant, booking) of holds that expired before ``before_iso``, every shard."""
    found = []
    for shard in range(keys.HOLD_SHARDS):
        result = HoldMarkerItem.gsi1.query(
            keys.holds_gsi1pk(shard), HoldMarkerItem.gsi1sk < before_iso, limit=limit_per_shard
        )
        found += [(i.tenant_id, i.booking_id) for i in result if isinstance(i, HoldMarkerItem)]
    return found


def limit_counters(
    tenant_id: str,
    event_type_id: str,
    day: date,
    week: str,
    delta: int,
    *,
    daily_limit: int | None,
    weekly_limit: int | None,
) -> list[CounterChange]:
    """The limit counters a booking on local ``day`` (ISO ``week``) moves by ``delta``."""
    pk = keys.booking_limit_pk(tenant_id, event_type_id)
    expires = datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=15)
    found = []
    if daily_limit is not None:
        found.append(CounterChange(pk, f"DAY#{day.isoformat()}", delta, daily_limit, expires))
    if weekly_limit is not None:
        found.append(CounterChange(pk, f"WEEK#{week}", delta, weekly_limit, expires))
    return found


def idempotency_claim(
    tenant_id: str, scope: str, key_digest: str, fingerprint: str, booking_id: str
) -> IdempotencyClaim:
    return IdempotencyClaim(
        pk=keys.idempotency_pk(tenant_id, scope, key_digest),
        fingerprint=fingerprint,
        booking_id=booking_id,
    )


def backoff(attempt: int) -> None:
    """Jittered pause before retrying a contended transaction."""
    time.sleep(random.uniform(0, 0.02 * 2**attempt))


# ---------------------------------------------------------------- notices (emails)
NOTICE_KEPT = timedelta(days=30)


def _notice(tenant_id: str, booking_id: str, notice_id: str) -> NoticeItem:
    return NoticeItem(keys.booking_pk(tenant_id, booking_id), keys.booking_notice_sk(notice_id))


def claim_notice(
    tenant_id: str, booking_id: str, notice_id: str, *, now: float, stale_after: float
) -> bool:
    """Claim the right to send a notice: False when it was sent, or another delivery is
    sending it right now. A claim older than ``stale_after`` seconds (its sender died between
    claiming and recording) may be taken over, so a crash never loses the email."""
    item = _notice(tenant_id, booking_id, notice_id)
    item.state = "sending"
    item.claimed_at = int(now)
    condition = NoticeItem.pk.does_not_exist() | (
        (NoticeItem.state == "sending") & (NoticeItem.claimed_at < int(now - stale_after))
    )
    try:
        item.save(condition=condition)
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def notice_sent(tenant_id: str, booking_id: str, notice_id: str, *, now: float) -> None:
    """Record the claimed notice as sent (kept NOTICE_KEPT, then TTL removes it)."""
    item = _notice(tenant_id, booking_id, notice_id)
    expires = datetime.fromtimestamp(now, UTC) + NOTICE_KEPT
    try:
        item.update(
            actions=[NoticeItem.state.set("sent"), NoticeItem.expires_at.set(expires)],
            condition=NoticeItem.pk.exists(),
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


def release_notice(tenant_id: str, booking_id: str, notice_id: str) -> None:
    """Give a claim back after a failed send, so the retry may send it."""
    try:
        _notice(tenant_id, booking_id, notice_id).delete(condition=NoticeItem.state == "sending")
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise
