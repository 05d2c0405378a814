"""Slots across DST changes: both transition days of each zone, starts before and after
13:00 (Cal.com shifted schedules starting at 13:00 or later by an hour on DST days), a zone
south of the equator, zones with 30-minute offsets (one whose DST shift is 30 minutes), and a
range that contains the change itself.

Expected instants are written out by hand from each zone's offset after the change, not
computed by the code under test.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.logic.availability import Occupancy, candidates, check_start, open_intervals
from tests.unit.scheduling.builders import NOW, event_type, resource

# zone -> {transition day: UTC offset in minutes after the change}
TRANSITIONS = {
    "America/New_York": {date(2026, 3, 8): -240, date(2026, 11, 1): -300},
    "Europe/London": {date(2026, 3, 29): 60, date(2026, 10, 25): 0},
    "Australia/Sydney": {date(2026, 4, 5): 600, date(2026, 10, 4): 660},  # south
    "Australia/Adelaide": {date(2026, 4, 5): 570, date(2026, 10, 4): 630},  # south, :30
    "Australia/Lord_Howe": {date(2026, 4, 5): 630, date(2026, 10, 4): 660},  # 30-min shift
    "America/St_Johns": {date(2026, 3, 8): -150, date(2026, 11, 1): -210},  # -3:30
}
# Real minutes of the wall-clock range 00:00-06:00 on each transition day.
NIGHT_MINUTES = {
    ("America/New_York", date(2026, 3, 8)): 300,
    ("America/New_York", date(2026, 11, 1)): 420,
    ("Europe/London", date(2026, 3, 29)): 300,
    ("Europe/London", date(2026, 10, 25)): 420,
    ("Australia/Sydney", date(2026, 4, 5)): 420,
    ("Australia/Sydney", date(2026, 10, 4)): 300,
    ("Australia/Adelaide", date(2026, 4, 5)): 420,
    ("Australia/Adelaide", date(2026, 10, 4)): 300,
    ("Australia/Lord_Howe", date(2026, 4, 5)): 390,
    ("Australia/Lord_Howe", date(2026, 10, 4)): 330,
    ("America/St_Johns", date(2026, 3, 8)): 300,
    ("America/St_Johns", date(2026, 11, 1)): 420,
}
CASES = [(zone, day, offset) for zone, days in TRANSITIONS.items() for day, offset in days.items()]
STARTS = ["09:00", "12:30", "13:00", "13:30", "17:00", "20:30"]


def _day_range(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day - timedelta(days=2), time(0), UTC)
    return start, start + timedelta(days=5)


def test_the_matrix_really_contains_both_changes_of_every_zone() -> None:
    # Given each zone's offsets at noon the day before and after each listed day
    for zone_name, days in TRANSITIONS.items():
        zone = ZoneInfo(zone_name)
        for day in days:
            before = datetime.combine(day - timedelta(days=1), time(12), zone).utcoffset()
            after = datetime.combine(day, time(12), zone).utcoffset()
            # Then the offset changes on exactly that day
            assert before != after, (zone_name, day)


@pytest.mark.parametrize(("zone", "day", "offset"), CASES)
@pytest.mark.parametrize("wall", STARTS)
def test_a_range_starting_at_any_hour_starts_at_that_local_hour_on_transition_days(
    zone: str, day: date, offset: int, wall: str
) -> None:
    # Given hours that start at `wall` every day, in the zone
    hours, minutes = map(int, wall.split(":"))
    end = f"{hours + 2:02d}:{minutes:02d}"
    res = resource(zone, (wall, end))
    et = event_type(duration_minutes=60)
    # When the slots of the transition day and its neighbours are computed
    start, stop = _day_range(day)
    found = candidates(res, et, Occupancy([], [], NOW), start, stop, NOW)
    on_day = [c for c in found if c.local_date == day]
    # Then that day's first slot is at `wall` local, the offset after the change applied
    local_minutes = hours * 60 + minutes
    expected = datetime.combine(day, time(0), UTC) + timedelta(minutes=local_minutes - offset)
    assert [c.start for c in on_day] == [expected, expected + timedelta(hours=1)]
    # And on the neighbouring days too, at the same wall-clock time
    for neighbour in (day - timedelta(days=1), day + timedelta(days=1)):
        walls = [
            c.start.astimezone(ZoneInfo(zone)).strftime("%H:%M")
            for c in found
            if c.local_date == neighbour
        ]
        assert walls[0] == wall, (neighbour, walls)


@pytest.mark.parametrize(("zone", "day", "offset"), CASES)
def test_a_night_range_across_the_change_covers_the_real_hours_between_its_ends(
    zone: str, day: date, offset: int
) -> None:
    # Given hours 00:00-06:00, 30-minute meetings every 30 minutes
    res = resource(zone, ("00:00", "06:00"))
    et = event_type(duration_minutes=30)
    # When the transition day's slots are computed
    start, stop = _day_range(day)
    on_day = [
        c
        for c in candidates(res, et, Occupancy([], [], NOW), start, stop, NOW)
        if c.local_date == day
    ]
    # Then they fill the real time between 00:00 and 06:00 local, 30 real minutes apart
    real = NIGHT_MINUTES[(zone, day)]
    assert len(on_day) == real // 30
    gaps = {b.start - a.start for a, b in itertools.pairwise(on_day)}
    assert gaps == {timedelta(minutes=30)}
    assert on_day[-1].start + timedelta(minutes=30) == on_day[0].start + timedelta(minutes=real)


@pytest.mark.parametrize(("zone", "day", "offset"), CASES)
def test_a_booking_at_13_00_local_on_the_transition_day_is_accepted_at_the_right_instant(
    zone: str, day: date, offset: int
) -> None:
    # Given hours 09:00-17:00 and a visitor asking for 13:00 local on the transition day
    res = resource(zone)
    et = event_type(duration_minutes=30)
    asked = datetime.combine(day, time(13), ZoneInfo(zone))
    # When the start is checked
    found = check_start(res, et, Occupancy([], [], NOW), asked, NOW)
    # Then it is bookable at 13:00 minus the offset after the change
    assert found.start == datetime.combine(day, time(0), UTC) + timedelta(minutes=13 * 60 - offset)
    assert found.local_date == day


def test_a_zone_with_a_half_hour_offset_and_no_dst_keeps_its_offset() -> None:
    # Given Kolkata (+05:30, no DST) hours 13:00-14:00
    res = resource("Asia/Kolkata", ("13:00", "14:00"))
    start, stop = _day_range(date(2026, 3, 8))
    # When slots are computed
    found = candidates(
        res, event_type(duration_minutes=60), Occupancy([], [], NOW), start, stop, NOW
    )
    # Then 13:00 IST is 07:30 UTC every day
    assert {c.start.strftime("%H:%M") for c in found} == {"07:30"}


def test_hours_ending_at_midnight_end_at_the_next_local_midnight() -> None:
    # Given hours 22:00-24:00 in New York on the fall-back night's eve
    res = resource("America/New_York", ("22:00", "24:00"))
    found = open_intervals(res, date(2026, 10, 31), date(2026, 10, 31))
    # Then the interval ends at 00:00 local the next day (04:00 UTC, still EDT)
    assert found[0][1].end == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
