"""Which starts are offered and which are refused: buffers, seats, limits, notice, horizon,
the slot grid, overrides and imported busy times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from scheduling.logic.availability import (
    Interval,
    InvalidStart,
    LimitReached,
    Occupancy,
    SlotUnavailable,
    candidates,
    check_start,
)
from scheduling.models import DateOverride, EventType, RefundPolicy, ResourceCreate
from tests.unit.scheduling.builders import NOW, as_sent, booking, event_type, resource

DAY = date(2026, 2, 2)  # a Monday
START = datetime(2026, 2, 2, 0, 0, tzinfo=UTC)
END = START + timedelta(days=1)


def _starts(et: EventType, occupancy: Occupancy, res=None) -> list[str]:
    found = candidates(res or resource("UTC"), et, occupancy, START, END, NOW)
    return [c.start.strftime("%H:%M") for c in found]


def test_a_booking_blocks_its_own_time_and_its_buffers_both_sides() -> None:
    # Given 30-minute meetings with 15 minutes of buffer after, and a booking 10:00-10:30
    et = event_type(duration_minutes=30, buffer_after_minutes=15, slot_interval_minutes=15)
    taken = booking("2026-02-02T10:00:00Z", "2026-02-02T10:30:00Z", buffer_after_minutes=15)
    # When slots are computed
    starts = _starts(et, Occupancy([taken], [], NOW))
    # Then nothing whose span touches 10:00-10:45 is offered (09:30+45 min reaches 10:15)
    assert "09:15" in starts
    assert not {"09:30", "09:45", "10:00", "10:15", "10:30"} & set(starts)
    assert "10:45" in starts


def test_cancelled_bookings_and_expired_holds_block_nothing_but_live_holds_do() -> None:
    et = event_type(duration_minutes=60)
    gone = [
        booking("2026-02-02T09:00:00Z", "2026-02-02T10:00:00Z", status="cancelled"),
        booking(
            "2026-02-02T10:00:00Z",
            "2026-02-02T11:00:00Z",
            status="held",
            hold_expires_at=(NOW - timedelta(seconds=1)).isoformat(),
        ),
    ]
    live = booking(
        "2026-02-02T11:00:00Z",
        "2026-02-02T12:00:00Z",
        status="held",
        hold_expires_at=(NOW + timedelta(minutes=5)).isoformat(),
    )
    starts = _starts(et, Occupancy([*gone, live], [], NOW))
    assert {"09:00", "10:00"} <= set(starts)
    assert "11:00" not in starts


def test_a_seated_slot_stays_offered_until_its_seats_are_taken() -> None:
    et = event_type(duration_minutes=60, seats=3)
    seated = [
        booking("2026-02-02T09:00:00Z", "2026-02-02T10:00:00Z", id=f"bk_{n}", seats=3)
        for n in range(2)
    ]
    found = candidates(resource("UTC"), et, Occupancy(seated, [], NOW), START, END, NOW)
    assert found[0].start.strftime("%H:%M") == "09:00"
    assert found[0].seats_left == 1
    full = [*seated, booking("2026-02-02T09:00:00Z", "2026-02-02T10:00:00Z", id="bk_3", seats=3)]
    assert "09:00" not in _starts(et, Occupancy(full, [], NOW))


def test_a_daily_limit_closes_the_day_and_a_weekly_limit_the_week() -> None:
    et = event_type(duration_minutes=60, daily_limit=2)
    two = [
        booking(f"2026-02-02T{h:02d}:00:00Z", f"2026-02-02T{h + 1:02d}:00:00Z", id=f"bk_{h}")
        for h in (9, 10)
    ]
    assert _starts(et, Occupancy(two, [], NOW)) == []
    with pytest.raises(LimitReached):
        check_start(resource("UTC"), et, Occupancy(two, [], NOW), START.replace(hour=14), NOW)
    weekly = event_type(duration_minutes=60, weekly_limit=1)
    sunday_before = booking("2026-02-01T09:00:00Z", "2026-02-01T10:00:00Z")
    wednesday = booking("2026-02-04T09:00:00Z", "2026-02-04T10:00:00Z")
    assert _starts(weekly, Occupancy([sunday_before], [], NOW))  # last week's booking
    assert _starts(weekly, Occupancy([wednesday], [], NOW)) == []


def test_imported_busy_times_and_date_overrides_shape_the_day() -> None:
    res = resource(
        "UTC",
        overrides=[
            as_sent(
                DateOverride, {"date": "2026-02-02", "ranges": [{"start": "10:00", "end": "12:00"}]}
            )
        ],
    )
    busy = [Interval(START.replace(hour=10), START.replace(hour=11))]
    assert _starts(event_type(duration_minutes=60), Occupancy([], busy, NOW), res) == ["11:00"]
    closed = resource(
        "UTC", overrides=[as_sent(DateOverride, {"date": "2026-02-02", "ranges": []})]
    )
    assert _starts(event_type(duration_minutes=60), Occupancy([], [], NOW), closed) == []


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (datetime(2026, 2, 2, 9, 7, tzinfo=UTC), "off_grid"),
        (datetime(2026, 2, 2, 9, 15, tzinfo=UTC), "off_slot_grid"),
        (datetime(2026, 2, 2, 18, 0, tzinfo=UTC), "off_slot_grid"),
        (datetime(2025, 12, 1, 9, 0, tzinfo=UTC), "past"),
        (datetime(2026, 1, 1, 12, 30, tzinfo=UTC), "min_notice"),
        (datetime(2027, 6, 1, 9, 0, tzinfo=UTC), "beyond_horizon"),
    ],
)
def test_starts_that_can_never_be_booked_are_refused_with_their_reason(
    start: datetime, reason: str
) -> None:
    et = event_type(duration_minutes=30, min_notice_minutes=120, horizon_days=90)
    res = resource("UTC", ("09:00", "17:00"))
    with pytest.raises(InvalidStart) as refused:
        check_start(res, et, Occupancy([], [], NOW), start, NOW)
    assert refused.value.reason == reason
    assert refused.value.status == 422


def test_a_taken_start_is_a_conflict_not_an_invalid_request() -> None:
    et = event_type(duration_minutes=30)
    taken = booking("2026-02-02T09:00:00Z", "2026-02-02T09:30:00Z")
    with pytest.raises(SlotUnavailable) as refused:
        check_start(resource("UTC"), et, Occupancy([taken], [], NOW), START.replace(hour=9), NOW)
    assert refused.value.status == 409


def test_schedules_with_overlapping_ranges_or_unknown_zones_are_invalid() -> None:
    with pytest.raises(ValidationError, match="overlaps"):
        ResourceCreate.model_validate(
            {
                "name": "Room",
                "time_zone": "UTC",
                "weekly": {
                    "mon": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]
                },
            }
        )
    with pytest.raises(ValidationError, match="IANA"):
        ResourceCreate.model_validate({"name": "Room", "time_zone": "Mars/Olympus", "weekly": {}})
    with pytest.raises(ValidationError, match="grid"):
        ResourceCreate.model_validate(
            {
                "name": "Room",
                "time_zone": "UTC",
                "weekly": {"mon": [{"start": "09:02", "end": "12:00"}]},
            }
        )


def test_a_tiered_refund_policy_pays_by_the_notice_given() -> None:
    policy = RefundPolicy(
        kind="tiered",
        tiers=[{"min_notice_hours": 24, "percent": 100}, {"min_notice_hours": 2, "percent": 50}],
    )
    assert [policy.percent_for(h) for h in (48, 24, 5, 1)] == [100, 100, 50, 0]
