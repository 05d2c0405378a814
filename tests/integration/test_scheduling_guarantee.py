"""The no-double-booking guarantee under concurrency, against the template's table in moto:
50 bookings of one slot, overlapping bookings of different lengths, an expired hold re-taken,
reschedule races, seats, limits, idempotency, and a property test over random operations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agenthub.errors import AppError, Conflict, ValidationFailed
from agenthub.events import Actor
from scheduling.logic import bookings, clock, config
from scheduling.logic.availability import is_live, span_of
from scheduling.models import BookingCreate, EventTypeCreate, ResourceCreate
from tests.integration import harness
from tests.unit.scheduling.builders import as_sent

OWNER = Actor(kind="api_key", key_id="k", role="owner")
DAY = datetime(2031, 3, 3, tzinfo=UTC)  # a Monday
NOW = datetime(2031, 3, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def one_dynamodb_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB executes each request atomically; in-process moto does not (a transaction's
    rollback copy races other threads' writes), so requests are serialized as the local
    runtime does (infra.local.moto_server). Requests still interleave between calls."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


@pytest.fixture
def world(tenant: Callable[..., harness.Tenant]) -> dict[str, Any]:
    from agenthub.runtime import init_function
    from agenthub.settings import ApiSettings

    init_function(ApiSettings)  # binds the table, as a handler's first call does
    clock.set_now(lambda: NOW)
    owner = tenant()
    agent = owner.agent()
    resource = config.create_resource(
        owner.id,
        as_sent(
            ResourceCreate,
            {
                "name": "Chair 1",
                "time_zone": "UTC",
                "weekly": {d: [{"start": "08:00", "end": "18:00"}] for d in ("mon", "tue", "wed")},
            },
        ),
        OWNER,
    )

    def event_type(**fields: Any) -> str:
        body = {
            "agent_id": agent["id"],
            "resource_id": resource.id,
            "name": "Visit",
            "duration_minutes": 30,
            "min_notice_minutes": 0,
            "horizon_days": 60,
            **fields,
        }
        return config.create_event_type(owner.id, as_sent(EventTypeCreate, body), OWNER).id

    return {"tenant": owner, "resource": resource, "event_type": event_type}


def _request(event_type_id: str, start: datetime, **fields: Any) -> BookingCreate:
    return as_sent(
        BookingCreate,
        {
            "event_type_id": event_type_id,
            "start": start.isoformat(),
            "name": "Visitor",
            "email": "v@example.com",
            **fields,
        },
    )


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` at once (a barrier releases them together); results or exceptions."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except AppError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _live(tenant_id: str, resource_id: str) -> list[Any]:
    found = bookings.list_bookings(
        tenant_id, resource_id, DAY - timedelta(days=2), DAY + timedelta(days=5)
    )
    now = clock.now()
    return [b for b in found if is_live(b, now)]


def _assert_no_overlap(live: list[Any]) -> None:
    exclusive = [b for b in live if b.seats == 1]
    for i, a in enumerate(exclusive):
        for b in exclusive[i + 1 :]:
            sa, sb = span_of(a), span_of(b)
            assert sa.end <= sb.start or sb.end <= sa.start, (a.id, a.start, b.id, b.start)


def test_fifty_concurrent_bookings_of_one_slot_make_exactly_one(world: dict[str, Any]) -> None:
    # Given one 30-minute slot and fifty visitors
    tenant_id = world["tenant"].id
    et = world["event_type"]()
    start = DAY.replace(hour=9)
    # When they all book it at once
    results = _race([lambda: bookings.create_booking(tenant_id, _request(et, start), OWNER)] * 50)
    # Then exactly one booking exists and 49 were told the slot was taken
    made = [r for r in results if isinstance(r, bookings.Created)]
    refused = [r for r in results if isinstance(r, Conflict)]
    print(f"\nconcurrency: {len(made)} booked, {len(refused)} refused (409)")
    assert len(made) == 1
    assert len(refused) == 49
    assert {r.code for r in refused} == {"slot_unavailable"}
    assert len(_live(tenant_id, world["resource"].id)) == 1


def test_overlapping_bookings_of_different_lengths_never_both_succeed(
    world: dict[str, Any],
) -> None:
    # Given a 90-minute and a 30-minute event type with a 10-minute buffer, on one resource
    tenant_id = world["tenant"].id
    long_type = world["event_type"](duration_minutes=90, slot_interval_minutes=15)
    short_type = world["event_type"](
        duration_minutes=30, buffer_before_minutes=10, slot_interval_minutes=15
    )
    # When a 09:00-10:30 and a 10:30 (its buffer reaches 10:20) booking race, many times over
    calls = []
    for n in range(6):
        base = DAY.replace(hour=8) + timedelta(hours=n // 2 * 4 + (n % 2) * 24)
        calls.append(
            lambda b=base: bookings.create_booking(tenant_id, _request(long_type, b), OWNER)
        )
        calls.append(
            lambda b=base: bookings.create_booking(
                tenant_id, _request(short_type, b + timedelta(minutes=90)), OWNER
            )
        )
    results = _race(calls)
    # Then of each pair exactly one won, and no live bookings overlap
    assert sum(isinstance(r, bookings.Created) for r in results) == 6
    _assert_no_overlap(_live(tenant_id, world["resource"].id))


def test_an_expired_hold_is_re_taken_and_can_no_longer_be_confirmed(world: dict[str, Any]) -> None:
    # Given a paid event type and a visitor's hold on 09:00
    tenant_id = world["tenant"].id
    et = world["event_type"](price={"amount_minor": 5000, "currency": "eur"}, hold_minutes=10)
    start = DAY.replace(hour=9)
    held = bookings.create_booking(tenant_id, _request(et, start), OWNER).booking
    assert held.status == "held"
    with pytest.raises(Conflict):
        bookings.create_booking(tenant_id, _request(et, start, email="b@example.com"), OWNER)
    # When the hold expires (no sweeper ran, TTL deleted nothing) and someone else books
    later = datetime.fromisoformat(held.hold_expires_at) + timedelta(seconds=1)
    clock.set_now(lambda: later)
    second = bookings.create_booking(tenant_id, _request(et, start, email="b@example.com"), OWNER)
    # Then the slot is theirs, and paying for the first hold is refused so payments refunds
    assert second.booking.status == "held"
    with pytest.raises(bookings.HoldExpired):
        bookings.confirm_paid_booking(tenant_id, held.id, payment_id="pi_late")
    confirmed = bookings.confirm_paid_booking(tenant_id, second.booking.id, payment_id="pi_1")
    assert confirmed.status == "confirmed"
    again = bookings.confirm_paid_booking(tenant_id, second.booking.id, payment_id="pi_1")
    assert again.version == confirmed.version  # idempotent for the same payment
    # And the sweeper marks the first one expired
    assert bookings.sweep_expired_holds() == 1
    assert bookings.get_booking(tenant_id, held.id).status == "expired"
    assert [b.id for b in _live(tenant_id, world["resource"].id)] == [second.booking.id]


def test_a_released_hold_frees_its_slot_at_once(world: dict[str, Any]) -> None:
    tenant_id = world["tenant"].id
    et = world["event_type"](price={"amount_minor": 5000, "currency": "eur"})
    start = DAY.replace(hour=11)
    held = bookings.create_booking(tenant_id, _request(et, start), OWNER).booking
    released = bookings.release_hold(tenant_id, held.id, reason="checkout expired")
    assert released.status == "cancelled"
    assert bookings.release_hold(tenant_id, held.id, reason="again").version == released.version
    assert bookings.create_booking(tenant_id, _request(et, start), OWNER).created


def test_two_reschedules_racing_for_one_slot_move_only_one_booking(world: dict[str, Any]) -> None:
    # Given two bookings and one free slot at 15:00
    tenant_id = world["tenant"].id
    et = world["event_type"]()
    a = bookings.create_booking(tenant_id, _request(et, DAY.replace(hour=9)), OWNER).booking
    b = bookings.create_booking(tenant_id, _request(et, DAY.replace(hour=10)), OWNER).booking
    target = DAY.replace(hour=15)
    # When both move to 15:00 at once
    results = _race(
        [
            lambda: bookings.reschedule_booking(tenant_id, a.id, target, OWNER),
            lambda: bookings.reschedule_booking(tenant_id, b.id, target, OWNER),
        ]
    )
    # Then one moved, the other kept its old slot, and nothing overlaps
    moved = [r for r in results if not isinstance(r, AppError)]
    assert len(moved) == 1
    live = _live(tenant_id, world["resource"].id)
    assert sorted(x.start for x in live) == sorted(
        [moved[0].start, (b if moved[0].id == a.id else a).start]
    )
    _assert_no_overlap(live)
    # And the old slot of the moved one is free again
    freed = a if moved[0].id == a.id else b
    assert bookings.create_booking(tenant_id, _request(et, freed.start_at), OWNER).created


def test_a_reschedule_into_a_taken_slot_changes_nothing(world: dict[str, Any]) -> None:
    tenant_id = world["tenant"].id
    et = world["event_type"]()
    a = bookings.create_booking(tenant_id, _request(et, DAY.replace(hour=9)), OWNER).booking
    bookings.create_booking(tenant_id, _request(et, DAY.replace(hour=10)), OWNER)
    with pytest.raises(Conflict):
        bookings.reschedule_booking(tenant_id, a.id, DAY.replace(hour=10), OWNER)
    assert bookings.get_booking(tenant_id, a.id).start == a.start
    with pytest.raises(Conflict):  # the old slot is still held by a
        bookings.create_booking(tenant_id, _request(et, DAY.replace(hour=9)), OWNER)


def test_seats_fill_up_exactly_under_concurrency(world: dict[str, Any]) -> None:
    tenant_id = world["tenant"].id
    et = world["event_type"](seats=3, duration_minutes=60)
    start = DAY.replace(hour=13)
    results = _race([lambda: bookings.create_booking(tenant_id, _request(et, start), OWNER)] * 8)
    assert sum(isinstance(r, bookings.Created) for r in results) == 3
    other = world["event_type"](duration_minutes=30)
    with pytest.raises(Conflict):  # the seated session holds the resource for others
        bookings.create_booking(tenant_id, _request(other, start + timedelta(minutes=30)), OWNER)
    one = next(r for r in results if isinstance(r, bookings.Created)).booking
    bookings.cancel_booking(tenant_id, one.id, OWNER)
    assert bookings.create_booking(tenant_id, _request(et, start), OWNER).created


def test_a_daily_limit_holds_under_concurrency(world: dict[str, Any]) -> None:
    tenant_id = world["tenant"].id
    et = world["event_type"](daily_limit=2)
    calls = [
        lambda h=h: bookings.create_booking(tenant_id, _request(et, DAY.replace(hour=h)), OWNER)
        for h in range(8, 14)
    ]
    results = _race(calls)
    assert sum(isinstance(r, bookings.Created) for r in results) == 2
    assert {r.code for r in results if isinstance(r, AppError)} == {"booking_limit_reached"}


def test_an_idempotency_key_replays_the_first_result_and_refuses_another_body(
    world: dict[str, Any],
) -> None:
    tenant_id = world["tenant"].id
    et = world["event_type"]()
    request = _request(et, DAY.replace(hour=9))
    first = bookings.create_booking(tenant_id, request, OWNER, idempotency_key="k-1")
    again = bookings.create_booking(tenant_id, request, OWNER, idempotency_key="k-1")
    assert first.created and not again.created
    assert again.booking.id == first.booking.id
    with pytest.raises(ValidationFailed) as refused:
        bookings.create_booking(
            tenant_id, _request(et, DAY.replace(hour=10)), OWNER, idempotency_key="k-1"
        )
    assert refused.value.code == "idempotency_key_reused"


def test_another_tenants_booking_is_not_found(
    world: dict[str, Any], tenant: Callable[..., harness.Tenant]
) -> None:
    from agenthub.errors import NotFound

    et = world["event_type"]()
    made = bookings.create_booking(world["tenant"].id, _request(et, DAY.replace(hour=9)), OWNER)
    other = tenant("Other Co")
    with pytest.raises(NotFound):
        bookings.get_booking(other.id, made.booking.id)
    with pytest.raises(NotFound):
        bookings.cancel_booking(other.id, made.booking.id, OWNER)
    with pytest.raises(NotFound):
        bookings.create_booking(other.id, _request(et, DAY.replace(hour=10)), OWNER)


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["book", "book", "hold", "cancel", "move", "expire"]),
        st.integers(min_value=0, max_value=11),  # a start on a 30-minute grid, 09:00-14:30
        st.integers(min_value=0, max_value=2),  # which event type
    ),
    min_size=4,
    max_size=10,
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(OPERATIONS, min_size=1, max_size=3),
    zone=st.sampled_from(["UTC", "Australia/Adelaide", "America/St_Johns"]),
)
def test_no_two_live_bookings_ever_overlap_under_random_concurrent_operations(
    world: dict[str, Any], batches: list[list[tuple[str, int, int]]], zone: str
) -> None:
    # Given three event types of different lengths and buffers on one resource in `zone`
    tenant_id = world["tenant"].id
    resource = world["resource"]
    config.update_resource(
        tenant_id,
        resource.id,
        __import__("scheduling.models", fromlist=["ResourceUpdate"]).ResourceUpdate(
            version=config.get_resource(tenant_id, resource.id, fresh=True).version,
            time_zone=zone,
            weekly={d: [{"start": "00:00", "end": "24:00"}] for d in ("sun", "mon", "tue", "wed")},
        ),
        OWNER,
    )
    types = [
        world["event_type"](duration_minutes=30, slot_interval_minutes=30),
        world["event_type"](duration_minutes=60, buffer_after_minutes=15, slot_interval_minutes=30),
        world["event_type"](
            duration_minutes=90,
            buffer_before_minutes=30,
            slot_interval_minutes=30,
            price={"amount_minor": 100, "currency": "usd"},
        ),
    ]
    base = DAY.replace(hour=9) + timedelta(days=7 * len(batches))
    made: list[str] = []
    now = [clock.now()]
    clock.set_now(lambda: now[0])

    def op(kind: str, slot: int, which: int) -> Any:
        start = base + timedelta(minutes=30 * slot)
        if kind in ("book", "hold"):
            result = bookings.create_booking(
                tenant_id, _request(types[which], start, hold=kind == "hold"), OWNER
            )
            made.append(result.booking.id)
            return result
        if not made:
            return None
        target = made[slot % len(made)]
        if kind == "cancel":
            return bookings.cancel_booking(tenant_id, target, OWNER)
        if kind == "move":
            return bookings.reschedule_booking(tenant_id, target, start, OWNER)
        return None

    # When batches of operations run concurrently, time jumping past holds between batches
    for batch in batches:
        _race([lambda o=o: op(*o) for o in batch if o[0] != "expire"] or [lambda: None])
        if any(o[0] == "expire" for o in batch):
            now[0] = now[0] + timedelta(minutes=20)
        # Then no two live bookings of the resource ever overlap
        _assert_no_overlap(_live(tenant_id, resource.id))
