"""The lock planner: what each change writes, and the condition it writes under."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduling.logic.locks import (
    FOREVER,
    Claim,
    LockConflict,
    LockState,
    Release,
    buckets,
    claim_writes,
    plan,
)

NOW = 1_800_000_000


def test_a_span_covers_every_five_minute_bucket_it_touches() -> None:
    start = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    end = datetime(2026, 2, 2, 9, 30, tzinfo=UTC)
    found = buckets(start, end)
    assert len(found) == 6
    assert found[0] == int(start.timestamp())
    assert found[-1] == int(end.timestamp()) - 300


def test_an_exclusive_claim_is_written_blind_as_absent_or_expired() -> None:
    writes = claim_writes(Claim("bk_1", [0, 300], FOREVER))
    assert [w.takeover for w in writes] == [True, True]
    assert all(w.expected is None and w.new and w.new.owner == "bk_1" for w in writes)


def test_a_live_lock_of_someone_else_cannot_be_claimed_but_an_expired_one_can() -> None:
    claim = Claim("bk_2", [0], FOREVER)
    with pytest.raises(LockConflict):
        plan({0: LockState("bk_1", NOW + 60)}, now=NOW, claim=claim)
    writes = plan({0: LockState("bk_1", NOW - 1, v=4)}, now=NOW, claim=claim)
    assert writes[0].new == LockState("bk_2", FOREVER, v=5)
    assert writes[0].expected == LockState("bk_1", NOW - 1, v=4)


def test_seats_join_a_group_until_it_is_full_and_expired_seats_do_not_count() -> None:
    group = "G#et#1"
    state = LockState(group, NOW + 60, {"bk_1": NOW + 60, "bk_old": NOW - 5}, v=2)
    writes = plan({0: state}, now=NOW, claim=Claim("bk_2", [0], FOREVER, group, capacity=2))
    assert writes[0].new is not None
    assert writes[0].new.seats == {"bk_1": NOW + 60, "bk_2": FOREVER}
    assert writes[0].new.hold_until == FOREVER
    full = writes[0].new
    with pytest.raises(LockConflict):
        plan({0: full}, now=NOW, claim=Claim("bk_3", [0], FOREVER, group, capacity=2))
    with pytest.raises(LockConflict):  # another event type's group at that time
        plan({0: full}, now=NOW, claim=Claim("bk_3", [0], FOREVER, "G#other#1", capacity=9))


def test_a_move_releases_the_old_buckets_keeps_the_shared_and_takes_the_new() -> None:
    mine = LockState("bk_1", FOREVER, v=1)
    read = {0: mine, 300: mine, 600: None}
    writes = plan(
        read,
        now=NOW,
        release=Release("bk_1", [0, 300]),
        claim=Claim("bk_1", [300, 600], FOREVER),
    )
    by_bucket = {w.bucket: w for w in writes}
    assert by_bucket[0].new is None  # released
    assert by_bucket[600].new == LockState("bk_1", FOREVER, v=1) and by_bucket[600].expected is None
    assert 300 not in by_bucket or by_bucket[300].new.owner == "bk_1"


def test_the_last_seat_leaving_deletes_the_group_lock() -> None:
    state = LockState("G#et#1", FOREVER, {"bk_1": FOREVER}, v=3)
    writes = plan({0: state}, now=NOW, release=Release("bk_1", [0], "G#et#1"))
    assert writes[0].new is None and writes[0].expected == state
