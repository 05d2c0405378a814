"""Bookings: create (confirmed, or held with an expiry), confirm, cancel, release, reschedule.

The guarantee: no two live bookings of one resource overlap (buffers included), seats and
daily/weekly limits hold, under any concurrency. It rests on conditional writes only
(``logic.locks``, limit counters, the booking's own version and status), all in one
TransactWriteItems with the booking and its event, so a change happens whole or not at all.

- A new exclusive booking makes one TransactWriteItems and nothing else in a warm
  environment (config and imported busy times are cached briefly; locks decide overlap).
- Seated bookings and every later change read the locks first (one consistent
  BatchGetItem) and condition each write on what they read; a lost race is re-read and
  re-decided a few times, then answered 409.
- A hold's expiry is in the write conditions (a lock is free once ``hold_until`` passed;
  confirm requires it not passed). TTL only cleans up. Limits count held bookings until
  they are released (by payments, by a cancel, or by the sweeper within a minute of expiry),
  so an expired hold can make a limit refuse early for that minute, never admit too many.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from agenthub import public_limits
from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.errors import AppError, Conflict, DependencyUnavailable, NotFound, ValidationFailed
from agenthub.events import Actor, DomainEvent, utc_now_iso
from scheduling.dal import repository
from scheduling.dal.repository import BookingWrite, Contended, CounterChange, WriteRejected
from scheduling.logic import clock, config, locks
from scheduling.logic.availability import (
    LimitReached,
    Occupancy,
    SlotUnavailable,
    busy_from,
    check_start,
    event_span,
    is_live,
    iso_week,
    iso_z,
    span_of,
)
from scheduling.models import (
    Booking,
    BookingCancelled,
    BookingConfirmed,
    BookingCreate,
    BookingHeld,
    BookingRescheduled,
    EventType,
    Resource,
)

MAX_ATTEMPTS = 5
SYSTEM = Actor(kind="system")
BUSY_TTL = 30.0
_busy: TTLCache[list[list[str]]] = ttl_cache(BUSY_TTL, max_entries=1024)


class HoldExpired(Conflict):
    """The hold is no longer live (expired, released, or its slot re-taken): payments must
    refund rather than confirm."""

    code = "hold_expired"


class BookingNotChangeable(Conflict):
    code = "booking_not_changeable"


class LinkUsed(AppError):
    status, code = 410, "link_used"


class IdempotencyMismatch(ValidationFailed):
    code = "idempotency_key_reused"


class AlreadyConfirmedWithOtherPayment(Conflict):
    code = "confirmed_by_another_payment"


def busy_cache() -> TTLCache[list[list[str]]]:
    return _busy


def busy_of(tenant_id: str, resource_id: str) -> list[list[str]]:
    key = (tenant_id, resource_id)
    found = _busy.get(key)
    if found is None:
        found = repository.busy_times(tenant_id, resource_id)
        _busy.set(key, found)
    return found


def new_booking_id() -> str:
    return "bk_" + secrets.token_hex(10)


def _payload(booking: Booking) -> dict[str, object]:
    return {
        "booking_id": booking.id,
        "agent_id": booking.agent_id,
        "event_type_id": booking.event_type_id,
        "resource_id": booking.resource_id,
        "start": booking.start,
        "end": booking.end,
        "status": booking.status,
        "seats": booking.seats,
        "paid": booking.price is not None,
    }


def _event(kind: type[DomainEvent], booking: Booking, actor: Actor, **data: object) -> DomainEvent:
    payload_model = kind.model_fields["data"].annotation
    assert isinstance(payload_model, type)
    return kind(
        tenant_id=booking.tenant_id,
        actor=actor,
        subject=f"booking/{booking.id}",
        data=payload_model.model_validate({**_payload(booking), **data}),
    )


def _counters(tenant_id: str, event_type: EventType, day: date, delta: int) -> list[CounterChange]:
    return repository.limit_counters(
        tenant_id,
        event_type.id,
        day,
        iso_week(day),
        delta,
        daily_limit=event_type.daily_limit,
        weekly_limit=event_type.weekly_limit,
    )


def _local_day(booking_start: datetime, resource: Resource) -> date:
    return booking_start.astimezone(ZoneInfo(resource.time_zone)).date()


def _idempotency(
    tenant_id: str, scope: str, key: str | None, fingerprint: object, booking_id: str
) -> repository.IdempotencyClaim | None:
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ValidationFailed("Idempotency-Key must have 1 to 255 characters")
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    body = json.dumps(fingerprint, sort_keys=True, default=str).encode()
    return repository.idempotency_claim(
        tenant_id, scope, digest, hashlib.sha256(body).hexdigest(), booking_id
    )


def _replay(tenant_id: str, claim: repository.IdempotencyClaim) -> Booking | None:
    stored = repository.idempotent_booking(claim.pk)
    if stored is None:
        return None
    fingerprint, booking_id = stored
    if fingerprint != claim.fingerprint:
        raise IdempotencyMismatch(
            "this Idempotency-Key was used for a different request; use a new key"
        )
    return repository.get_booking(tenant_id, booking_id)


def _invalidate(booking: Booking) -> None:
    from scheduling.logic import slots

    slots.invalidate(booking.tenant_id, booking.resource_id)


@dataclass(frozen=True)
class Created:
    booking: Booking
    created: bool  # False: an Idempotency-Key replay of an earlier request


def create_booking(
    tenant_id: str,
    data: BookingCreate,
    actor: Actor,
    *,
    agent_id: str | None = None,
    idempotency_key: str | None = None,
    conversation_id: str | None = None,
    counted: Sequence[public_limits.Count] = (),
) -> Created:
    """Book ``data.start`` of an event type: confirmed at once, or held (paid event types,
    or ``hold`` asked for) until ``hold_expires_at``. ``agent_id`` (the widget's) must be the
    event type's agent, else NotFound."""
    event_type = config.get_event_type(tenant_id, data.event_type_id)
    if (agent_id is not None and event_type.agent_id != agent_id) or not event_type.active:
        raise NotFound("event type not found")
    resource = config.get_resource(tenant_id, event_type.resource_id)
    now = clock.now()
    booking_id = new_booking_id()
    claim = _idempotency(
        tenant_id,
        "booking",
        idempotency_key,
        {"body": data.model_dump(mode="json"), "agent": agent_id},
        booking_id,
    )
    if claim is not None:
        replay = _replay(tenant_id, claim)
        if replay is not None:
            return Created(replay, False)
    occupancy = Occupancy([], busy_from(busy_of(tenant_id, resource.id)), now)
    candidate = check_start(resource, event_type, occupancy, data.start, now)
    held = event_type.paid or data.hold
    hold_expires = now + timedelta(minutes=event_type.hold_minutes) if held else None
    stamp = utc_now_iso()
    booking = Booking(
        id=booking_id,
        tenant_id=tenant_id,
        agent_id=event_type.agent_id,
        event_type_id=event_type.id,
        resource_id=resource.id,
        status="held" if held else "confirmed",
        hold_expires_at=iso_z(hold_expires) if hold_expires else None,
        start=iso_z(candidate.start),
        end=iso_z(candidate.start + timedelta(minutes=event_type.duration_minutes)),
        time_zone=data.time_zone,
        visitor_name=data.name,
        visitor_email=data.email,
        answers=data.answers,
        seats=event_type.seats,
        price=event_type.price,
        refund_policy=event_type.refund_policy,
        buffer_before_minutes=event_type.buffer_before_minutes,
        buffer_after_minutes=event_type.buffer_after_minutes,
        conversation_id=conversation_id,
        manage_nonce=secrets.token_hex(8),
        created_at=stamp,
        updated_at=stamp,
    )
    hold_until = locks.epoch(hold_expires) if hold_expires else locks.FOREVER
    span = event_span(event_type, candidate.start)
    lock_claim = locks.Claim(
        booking_id=booking.id,
        buckets=locks.buckets(span.start, span.end),
        hold_until=hold_until,
        group=locks.group_of(event_type.id, candidate.start) if event_type.seats > 1 else None,
        capacity=event_type.seats,
    )
    if held:
        event = _event(BookingHeld, booking, actor, hold_expires_at=booking.hold_expires_at)
    else:
        event = _event(BookingConfirmed, booking, actor)
    write = BookingWrite(
        booking=booking,
        lock_ttl=locks.ttl_for(span.end),
        counters=_counters(tenant_id, event_type, candidate.local_date, +1),
        idempotency=claim,
        hold_marker="put" if held else None,
        events=[event],
        public=list(counted),
    )
    try:
        _commit_claim(write, lock_claim, now)
    except WriteRejected as rejected:
        if claim is not None:
            replay = _replay(tenant_id, claim)
            if replay is not None:
                return Created(replay, False)
        raise _rejection(rejected) from None
    _invalidate(booking)
    return Created(booking, True)


def _commit_claim(write: BookingWrite, claim: locks.Claim, now: datetime) -> None:
    """Take ``claim``'s locks with ``write``: blind for exclusive bookings, read-then-pinned
    for seats; retried on contention and (seats) on a lost race."""
    for attempt in range(MAX_ATTEMPTS):
        write.now = locks.epoch(clock.now())
        if claim.group is None:
            write.locks = locks.claim_writes(claim)
        else:
            booking = write.booking
            read = repository.read_locks(booking.tenant_id, booking.resource_id, claim.buckets)
            try:
                write.locks = locks.plan(read, now=write.now, claim=claim)
            except locks.LockConflict as exc:
                raise WriteRejected("lock", exc.bucket) from None
        try:
            repository.commit(write)
            return
        except Contended:
            pass
        except WriteRejected as rejected:
            if claim.group is None or rejected.part != "lock":
                raise
        repository.backoff(attempt)
    raise DependencyUnavailable("the slot is busy with other requests; retry shortly")


def _rejection(rejected: WriteRejected) -> AppError:
    if rejected.part == "lock":
        taken = datetime.fromtimestamp(int(rejected.detail), UTC) if rejected.detail else None
        return SlotUnavailable(
            "that time was just taken; choose another slot",
            details={"taken_at": iso_z(taken)} if taken else None,
        )
    if rejected.part == "counter":
        return LimitReached("no more bookings of this kind that day or week")
    if rejected.part == "idempotency":
        return Conflict("a request with this Idempotency-Key is in progress; retry shortly")
    return Conflict("the booking changed meanwhile; fetch it and retry")


# ---------------------------------------------------------------------------- reads


def get_booking(tenant_id: str, booking_id: str) -> Booking:
    """The booking (a strongly consistent read); another tenant's id is a NotFound."""
    return repository.get_booking(tenant_id, booking_id)


def list_bookings(
    tenant_id: str, resource_id: str, start: datetime, end: datetime
) -> list[Booking]:
    config.get_resource(tenant_id, resource_id)
    return repository.bookings_between(tenant_id, resource_id, start, end)


# ---------------------------------------------------------------------------- changes


def _release_for(booking: Booking) -> locks.Release:
    span = span_of(booking)
    group = locks.group_of(booking.event_type_id, booking.start_at) if booking.seats > 1 else None
    return locks.Release(booking.id, locks.buckets(span.start, span.end), group)


def _change(
    booking: Booking,
    *,
    updated: Booking,
    events: list[DomainEvent],
    release: locks.Release | None = None,
    claim: locks.Claim | None = None,
    counters: list[CounterChange] | None = None,
    expect_status: tuple[str, ...],
    expect_nonce: str | None = None,
    hold_marker: Literal["put", "delete"] | None = None,
    hold_not_expired: bool = False,
    idempotency: repository.IdempotencyClaim | None = None,
    lock_ttl: datetime | None = None,
    counted: Sequence[public_limits.Count] = (),
) -> None:
    """Commit a change of an existing booking: read its locks, plan, write pinned; retry a
    lost race with a fresh read."""
    buckets = set(release.buckets if release else []) | set(claim.buckets if claim else [])
    for attempt in range(MAX_ATTEMPTS):
        now = locks.epoch(clock.now())
        read = repository.read_locks(booking.tenant_id, booking.resource_id, buckets)
        try:
            planned = locks.plan(read, now=now, release=release, claim=claim)
        except locks.LockConflict as exc:
            raise _rejection(WriteRejected("lock", exc.bucket)) from None
        write = BookingWrite(
            booking=updated,
            expect=(booking.version,),
            expect_status=expect_status,
            expect_nonce=expect_nonce,
            hold_not_expired_at=now if hold_not_expired else None,
            locks=planned,
            lock_ttl=lock_ttl or locks.ttl_for(updated.end_at),
            now=now,
            counters=counters or [],
            idempotency=idempotency,
            hold_marker=hold_marker,
            events=events,
            public=list(counted),
        )
        try:
            repository.commit(write)
            _invalidate(updated)
            return
        except Contended:
            pass
        except WriteRejected as rejected:
            if rejected.part != "lock":
                raise
        repository.backoff(attempt)
    raise DependencyUnavailable("the booking is busy with other requests; retry shortly")


def _next(booking: Booking, **changes: object) -> Booking:
    return booking.model_copy(
        update={**changes, "version": booking.version + 1, "updated_at": utc_now_iso()}
    )


def confirm_booking(
    tenant_id: str, booking_id: str, actor: Actor, *, payment_id: str | None = None
) -> Booking:
    """Held -> confirmed (compare-and-swap, the hold must still be live). Idempotent: an
    already confirmed booking is returned as it is (for payments: with the same payment)."""
    booking = repository.get_booking(tenant_id, booking_id)
    if booking.status == "confirmed":
        if payment_id is not None and booking.payment_id not in (None, payment_id):
            raise AlreadyConfirmedWithOtherPayment(
                "this booking was confirmed by another payment",
                details={"payment_id": booking.payment_id},
            )
        return booking
    now = clock.now()
    if not is_live(booking, now):
        raise HoldExpired(
            "the hold on this booking is no longer live",
            details={"status": booking.status, "hold_expires_at": booking.hold_expires_at},
        )
    updated = _next(booking, status="confirmed", hold_expires_at=None, payment_id=payment_id)
    release = _release_for(booking)
    claim = locks.Claim(
        booking.id, release.buckets, locks.FOREVER, release.group, capacity=booking.seats
    )
    try:
        _change(
            booking,
            updated=updated,
            events=[_event(BookingConfirmed, updated, actor, payment_id=payment_id)],
            claim=claim,
            expect_status=("held",),
            hold_marker="delete",
            hold_not_expired=True,
        )
    except (WriteRejected, SlotUnavailable) as exc:
        current = repository.get_booking(tenant_id, booking_id)
        if current.status == "confirmed" and current.payment_id == payment_id:
            return current  # a concurrent confirmation of the same payment won
        raise HoldExpired(
            "the hold on this booking is no longer live",
            details={"status": current.status, "hold_expires_at": current.hold_expires_at},
        ) from exc
    return updated


def confirm_paid_booking(tenant_id: str, booking_id: str, *, payment_id: str) -> Booking:
    """For payments: confirm a held booking once its payment succeeded. Raises HoldExpired
    (409 ``hold_expired``) when the hold is no longer live, so payments refunds."""
    return confirm_booking(
        tenant_id, booking_id, Actor(kind="system", key_id="payments"), payment_id=payment_id
    )


def cancel_booking(
    tenant_id: str,
    booking_id: str,
    actor: Actor,
    *,
    reason: str = "",
    by: Literal["tenant", "visitor", "hold_expired", "hold_released"] = "tenant",
    nonce: str | None = None,
    counted: Sequence[public_limits.Count] = (),
) -> Booking:
    """Cancel a live booking and free its slot. Idempotent: a cancelled booking is returned
    as it is (through a link: the link is used up, 410)."""
    booking = repository.get_booking(tenant_id, booking_id)
    if nonce is not None and booking.manage_nonce != nonce:
        raise LinkUsed("this link was already used; ask for a new one")
    if booking.status in ("cancelled", "expired"):
        return booking
    now = clock.now()
    config_event_type = _event_type_or_none(tenant_id, booking.event_type_id)
    refund = None
    if booking.price is not None and booking.status == "confirmed":
        notice_hours = (booking.start_at - now).total_seconds() / 3600
        refund = booking.refund_policy.percent_for(notice_hours)
    status = "expired" if by == "hold_expired" else "cancelled"
    updated = _next(
        booking, status=status, cancel_reason=reason or None, manage_nonce=secrets.token_hex(8)
    )
    counters = []
    if config_event_type is not None:
        resource = _resource_or_none(tenant_id, booking.resource_id)
        if resource is not None:
            counters = _counters(
                tenant_id, config_event_type, _local_day(booking.start_at, resource), -1
            )
    try:
        _change(
            booking,
            updated=updated,
            events=[
                _event(
                    BookingCancelled, updated, actor, reason=reason, by=by, refund_percent=refund
                )
            ],
            release=_release_for(booking),
            counters=counters,
            expect_status=(booking.status,),
            expect_nonce=nonce,
            hold_marker="delete" if booking.status == "held" else None,
            counted=counted,
        )
    except WriteRejected:
        current = repository.get_booking(tenant_id, booking_id)
        if nonce is not None:
            raise LinkUsed("this link was already used; ask for a new one") from None
        if current.status in ("cancelled", "expired"):
            return current  # a concurrent cancellation won
        raise Conflict("the booking changed meanwhile; fetch it and retry") from None
    return updated


def release_hold(tenant_id: str, booking_id: str, *, reason: str) -> Booking:
    """For payments (checkout expired or abandoned) and the sweeper: end a hold and free its
    slot. Idempotent; a confirmed booking is not a hold (409: cancel it instead)."""
    booking = repository.get_booking(tenant_id, booking_id)
    if booking.status in ("cancelled", "expired"):
        return booking
    if booking.status != "held":
        raise BookingNotChangeable("this booking is confirmed; cancel it instead")
    expired = not is_live(booking, clock.now())
    return cancel_booking(
        tenant_id,
        booking_id,
        SYSTEM,
        reason=reason,
        by="hold_expired" if expired else "hold_released",
    )


def reschedule_booking(
    tenant_id: str,
    booking_id: str,
    new_start: datetime,
    actor: Actor,
    *,
    nonce: str | None = None,
    idempotency_key: str | None = None,
    counted: Sequence[public_limits.Count] = (),
) -> Booking:
    """Move a live booking: the new slot is taken and the old one released in one
    transaction, or nothing changes (409 when the new slot is taken)."""
    booking = repository.get_booking(tenant_id, booking_id)
    if nonce is not None and booking.manage_nonce != nonce:
        raise LinkUsed("this link was already used; ask for a new one")
    claim_id = _idempotency(
        tenant_id, f"reschedule-{booking_id}", idempotency_key, {"start": new_start}, booking_id
    )
    if claim_id is not None and repository.idempotent_booking(claim_id.pk) is not None:
        replay = _replay(tenant_id, claim_id)
        assert replay is not None
        return replay
    now = clock.now()
    if not is_live(booking, now):
        raise BookingNotChangeable(
            "only a live booking can be moved", details={"status": booking.status}
        )
    event_type = config.get_event_type(tenant_id, booking.event_type_id)
    resource = config.get_resource(tenant_id, booking.resource_id)
    occupancy = Occupancy([], busy_from(busy_of(tenant_id, resource.id)), now)
    candidate = check_start(resource, event_type, occupancy, new_start, now)
    start = candidate.start
    if start == booking.start_at:
        return booking
    updated = _next(
        booking,
        start=iso_z(start),
        end=iso_z(start + timedelta(minutes=event_type.duration_minutes)),
        buffer_before_minutes=event_type.buffer_before_minutes,
        buffer_after_minutes=event_type.buffer_after_minutes,
        seats=event_type.seats,
        manage_nonce=secrets.token_hex(8),
        reschedule_count=booking.reschedule_count + 1,
    )
    span = event_span(event_type, start)
    hold_until = (
        locks.epoch(datetime.fromisoformat(booking.hold_expires_at))
        if booking.status == "held" and booking.hold_expires_at
        else locks.FOREVER
    )
    claim = locks.Claim(
        booking.id,
        locks.buckets(span.start, span.end),
        hold_until,
        locks.group_of(event_type.id, start) if event_type.seats > 1 else None,
        event_type.seats,
    )
    old_day = _local_day(booking.start_at, resource)
    counters = []
    if old_day != candidate.local_date:
        counters = _counters(tenant_id, event_type, old_day, -1) + _counters(
            tenant_id, event_type, candidate.local_date, +1
        )
        counters = _merge_counters(counters)
    event = _event(
        BookingRescheduled,
        updated,
        actor,
        previous_start=booking.start,
        previous_end=booking.end,
    )
    try:
        _change(
            booking,
            updated=updated,
            events=[event],
            release=_release_for(booking),
            claim=claim,
            counters=counters,
            expect_status=(booking.status,),
            expect_nonce=nonce,
            idempotency=claim_id,
            lock_ttl=locks.ttl_for(span.end),
            counted=counted,
        )
    except WriteRejected as rejected:
        if claim_id is not None:
            replay = _replay(tenant_id, claim_id)
            if replay is not None:
                return replay
        if rejected.part == "booking" and nonce is not None:
            raise LinkUsed("this link was already used; ask for a new one") from None
        raise _rejection(rejected) from None
    return updated


def _merge_counters(changes: list[CounterChange]) -> list[CounterChange]:
    """One change per counter item (a transaction may touch an item once): a move within
    one week nets the week counter to zero and leaves it out."""
    merged: dict[tuple[str, str], CounterChange] = {}
    for change in changes:
        key = (change.pk, change.sk)
        before = merged.get(key)
        delta = change.delta + (before.delta if before else 0)
        merged[key] = CounterChange(change.pk, change.sk, delta, change.limit, change.expires_at)
    return [c for c in merged.values() if c.delta]


def _event_type_or_none(tenant_id: str, event_type_id: str) -> EventType | None:
    try:
        return config.get_event_type(tenant_id, event_type_id)
    except NotFound:
        return None


def _resource_or_none(tenant_id: str, resource_id: str) -> Resource | None:
    try:
        return config.get_resource(tenant_id, resource_id)
    except NotFound:
        return None


# A priced hold is payments' to end first: its job (every minute) re-checks the Checkout
# Session with Stripe and expires it before releasing the hold. This sweeper releases a priced
# hold only once that had its chance (a hold whose visitor never opened the pay step has no
# session, and only this sweeper ends it).
PRICED_HOLD_GRACE = timedelta(minutes=10)


def sweep_expired_holds(limit_per_shard: int = 100) -> int:
    """Release holds whose expiry passed (status expired, counters back, locks freed if
    nobody re-took them); priced holds only ``PRICED_HOLD_GRACE`` after their expiry. Returns
    how many were released."""
    released = 0
    now = clock.now()
    for tenant_id, booking_id in repository.expired_holds(iso_z(now), limit_per_shard):
        try:
            if _payments_turn(get_booking(tenant_id, booking_id), now):
                continue
            release_hold(tenant_id, booking_id, reason="hold expired")
            released += 1
        except (NotFound, Conflict):
            continue  # confirmed meanwhile, or already gone
    return released


def _payments_turn(booking: Booking, now: datetime) -> bool:
    if booking.price is None or booking.status != "held" or not booking.hold_expires_at:
        return False
    return datetime.fromisoformat(booking.hold_expires_at) + PRICED_HOLD_GRACE > now
